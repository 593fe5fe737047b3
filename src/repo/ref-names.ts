// Ref name validation with the rules of `git check-ref-format` (refs.c check_refname_format,
// flags 0): no one-level names, no refspec patterns, no normalisation. Validating here also keeps
// ref names from escaping the git directory, since they become file paths.

/** True when `git check-ref-format <name>` would accept `name` (e.g. 'refs/heads/main', 'a/b'). */
export function isValidRefName(name: string): boolean {
  if (name === '' || name === '@') return false;
  if (name.endsWith('.')) return false;
  const components = name.split('/');
  if (components.length < 2) return false; // one-level names ('HEAD', 'main') are not full names
  return components.every(isValidComponent);
}

/**
 * What C Git's receive-pack accepts as a push target: 'refs/' followed by a valid name with at
 * least two components (so 'refs/foo' is refused as a "funny refname", 'refs/heads/x' is fine).
 */
export function isPushableRefName(name: string): boolean {
  return name.startsWith('refs/') && isValidRefName(name.slice('refs/'.length));
}

/** A name RefStore accepts for reads and writes: 'HEAD' or a valid name under refs/. */
export function isStorableRefName(name: string): boolean {
  return name === 'HEAD' || (name.startsWith('refs/') && isValidRefName(name));
}

function isValidComponent(component: string): boolean {
  if (component === '') return false; // leading '/', trailing '/', or '//'
  if (component.startsWith('.')) return false;
  if (component.endsWith('.lock')) return false;
  let prev = '';
  for (const ch of component) {
    const code = ch.codePointAt(0)!;
    if (code < 0x20 || code === 0x7f) return false;
    if (' ~^:?*[\\'.includes(ch)) return false;
    if (prev === '.' && ch === '.') return false;
    if (prev === '@' && ch === '{') return false;
    prev = ch;
  }
  return true;
}

/** Longest ref name component stored: file systems cap names at 255 bytes, and `.lock` is appended. */
export const MAX_REF_COMPONENT_BYTES = 250;
/** Longest whole ref name stored (Linux PATH_MAX is 4096, and the repository path comes first). */
export const MAX_REF_NAME_BYTES = 1024;

/** Why a valid ref name cannot be stored as a loose ref file, or null when it can. */
export function refNameTooLong(name: string): string | null {
  if (Buffer.byteLength(name) > MAX_REF_NAME_BYTES) return `refname too long (over ${MAX_REF_NAME_BYTES} bytes)`;
  for (const component of name.split('/')) {
    if (Buffer.byteLength(component) > MAX_REF_COMPONENT_BYTES) return `refname too long (a component is over ${MAX_REF_COMPONENT_BYTES} bytes)`;
  }
  return null;
}

// Case-insensitive file systems (macOS, Windows) store refs/heads/MAIN and refs/heads/main as one
// file, and refs/heads/Feat/x inside refs/heads/feat/. Refs are files on every platform gitgate's
// data may be copied to, so such names are kept apart everywhere (not only where the data
// directory happens to be case-insensitive).

/** The key two ref names (or patterns) share when a case- and normalization-insensitive file system would confuse them. */
export function foldRefName(name: string): string {
  return name.normalize('NFC').toUpperCase().toLowerCase();
}

/** Existing ref names by the folded form of each of their leading paths. */
export class RefCaseIndex {
  private readonly byFolded = new Map<string, { path: string; ref: string }>();

  constructor(names: Iterable<string> = []) {
    for (const n of names) this.add(n);
  }

  add(name: string): void {
    for (const path of leadingPaths(name)) {
      const key = foldRefName(path);
      if (!this.byFolded.has(key)) this.byFolded.set(key, { path, ref: name });
    }
  }

  /** An existing ref that `name` would share a file or directory with while differing in case, or null. */
  clash(name: string): string | null {
    for (const path of leadingPaths(name)) {
      const seen = this.byFolded.get(foldRefName(path));
      if (seen && seen.path !== path) return seen.ref;
    }
    return null;
  }
}

/** 'refs', 'refs/heads', 'refs/heads/x' for 'refs/heads/x'. */
function leadingPaths(name: string): string[] {
  const out: string[] = [];
  for (let at = name.indexOf('/'); at >= 0; at = name.indexOf('/', at + 1)) out.push(name.slice(0, at));
  out.push(name);
  return out;
}
