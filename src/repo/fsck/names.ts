// Names that file systems treat as '.git', '.gitmodules' and friends (path.c, utf8.c).

/** NTFS: '.git' followed only by spaces/periods (or an ADS ':'), or the short name 'git~1'. */
export function isNtfsDotGit(name: string): boolean {
  const lower = asciiLower(name);
  let i: number;
  if (lower.startsWith('.git')) i = 4;
  else if (lower.startsWith('git~1')) i = 5;
  else return false;
  return onlySpacesAndPeriods(name, i, true);
}

export const isNtfsDotGitmodules = (name: string) => isNtfsDotGeneric(name, 'gitmodules', 'gi7eba');
export const isNtfsDotGitignore = (name: string) => isNtfsDotGeneric(name, 'gitignore', 'gi250a');
export const isNtfsDotGitattributes = (name: string) => isNtfsDotGeneric(name, 'gitattributes', 'gi7d29');
export const isNtfsDotMailmap = (name: string) => isNtfsDotGeneric(name, 'mailmap', 'maba30');

/** HFS+: '.git' after dropping the code points HFS+ ignores, compared case-insensitively. */
export const isHfsDotGit = (name: string) => isHfsDotGeneric(name, 'git');
export const isHfsDotGitmodules = (name: string) => isHfsDotGeneric(name, 'gitmodules');
export const isHfsDotGitignore = (name: string) => isHfsDotGeneric(name, 'gitignore');
export const isHfsDotGitattributes = (name: string) => isHfsDotGeneric(name, 'gitattributes');
export const isHfsDotMailmap = (name: string) => isHfsDotGeneric(name, 'mailmap');

function onlySpacesAndPeriods(name: string, from: number, separators: boolean): boolean {
  for (let i = from; i < name.length; i++) {
    const c = name[i];
    if (c === ':' || (separators && (c === '/' || c === '\\'))) return true;
    if (c !== ' ' && c !== '.') return false;
  }
  return true;
}

// is_ntfs_dot_generic: '.<needle>', '<first 6 of needle>~1..4', or the 8.3 fallback '<prefix>~N'
function isNtfsDotGeneric(name: string, needle: string, shortPrefix: string): boolean {
  const lower = asciiLower(name);
  if (name[0] === '.' && lower.startsWith(needle, 1)) return onlySpacesAndPeriods(name, needle.length + 1, false);
  if (lower.startsWith(needle.slice(0, 6)) && name[6] === '~' && name[7]! >= '1' && name[7]! <= '4') {
    return onlySpacesAndPeriods(name, 8, false);
  }
  let sawTilde = false;
  for (let i = 0; i < 8; i++) {
    if (i >= name.length) return false;
    const c = name[i]!;
    if (sawTilde) {
      if (c < '0' || c > '9') return false;
    } else if (c === '~') {
      i++;
      if (i >= name.length || name[i]! < '1' || name[i]! > '9') return false;
      sawTilde = true;
    } else if (i >= 6) return false;
    else if (c.charCodeAt(0) > 0x7f) return false;
    else if (asciiLower(c) !== shortPrefix[i]) return false;
  }
  return onlySpacesAndPeriods(name, 8, false);
}

const HFS_IGNORED = (cp: number) =>
  (cp >= 0x200c && cp <= 0x200f) || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x206a && cp <= 0x206f) || cp === 0xfeff;

function isHfsDotGeneric(name: string, needle: string): boolean {
  const chars = [...name].filter((ch) => !HFS_IGNORED(ch.codePointAt(0)!));
  if (chars[0] !== '.') return false;
  for (let i = 0; i < needle.length; i++) {
    const ch = chars[i + 1];
    if (ch === undefined || ch.codePointAt(0)! > 0x7f || asciiLower(ch) !== needle[i]) return false;
  }
  const after = chars[needle.length + 1];
  return after === undefined || after === '/';
}

/** tolower() of the C locale: Unicode case folding must not turn e.g. U+212A (Kelvin) into 'k'. */
function asciiLower(s: string): string {
  return s.replace(/[A-Z]/g, (c) => c.toLowerCase());
}
