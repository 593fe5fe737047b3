// The .gitmodules checks of C Git's fsck (fsck.c: fsck_gitmodules_fn, submodule-config.c),
// run on pushes as receive.fsckObjects runs them: a submodule name that escapes with '..'
// (CVE-2018-11235), a url or path that a git command would take as an option (CVE-2018-17456),
// relative urls that smuggle a newline or climb out of their root (CVE-2020-11008), and
// `update = !command`. Messages use fsck.c's ids and wording.
import { isHfsDotGitmodules, isNtfsDotGitmodules, parseTree } from './objects.js';

/** Ids of the blobs a tree holds under a name some file system treats as .gitmodules. */
export function gitmodulesBlobs(tree: Buffer): string[] {
  const out: string[] = [];
  for (const e of parseTree(tree)) {
    if (e.mode === '120000' || e.mode === '160000') continue; // symlinks are fsckTree's own finding (a directory: gitmodulesBlob)
    if (isHfsDotGitmodules(e.name) || isNtfsDotGitmodules(e.name)) out.push(e.oid);
  }
  return out;
}

/** null when the .gitmodules content passes, else "<msgId>: <message>". Unparsable content is
 *  only info-level in C Git (gitmodulesParse): the entries read before the error still count. */
export function checkGitmodules(content: Buffer): string | null {
  for (const { section, subsection, key, value } of configEntries(content.toString('utf8'))) {
    if (section !== 'submodule' || subsection === null) continue;
    if (!validSubmoduleName(subsection)) return `gitmodulesName: disallowed submodule name: ${subsection}`;
    if (key === 'url' && value !== null && !validSubmoduleUrl(value)) return `gitmodulesUrl: disallowed submodule url: ${value}`;
    if (key === 'path' && value !== null && value.startsWith('-')) return `gitmodulesPath: disallowed submodule path: ${value}`;
    if (key === 'update' && value !== null && value.startsWith('!')) return `gitmodulesUpdate: disallowed submodule update setting: ${value}`;
  }
  return null;
}

/** check_submodule_name: not empty, no '..' component (either separator). */
function validSubmoduleName(name: string): boolean {
  return name !== '' && !name.split(/[/\\]/).includes('..');
}

function percentDecode(s: string): string {
  return s.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

/** check_submodule_url. */
function validSubmoduleUrl(url: string): boolean {
  if (url.startsWith('-')) return false;
  const relative = url.startsWith('./') || url.startsWith('../');
  if (relative || url.startsWith('git://')) {
    if (percentDecode(url).includes('\n')) return false;
    // count_leading_dotdots: a "../" that lands on ':' or '/' can rewrite the host (CVE-2020-11008)
    let rest = url;
    let dotdots = 0;
    for (;;) {
      if (rest.startsWith('../')) {
        dotdots++;
        rest = rest.slice(3);
      } else if (rest.startsWith('./')) rest = rest.slice(2);
      else break;
    }
    return !(dotdots > 0 && (rest.startsWith(':') || rest.startsWith('/')));
  }
  // url_to_curl_url: http(s)/ftp(s), optionally behind "<helper>::" — credential_from_url_gently
  const curl = /^(?:[A-Za-z0-9+.-]+::)?((?:https?|ftps?):\/\/.*)$/s.exec(url);
  if (curl) {
    const decoded = percentDecode(curl[1]!);
    if (/[\n\0]/.test(decoded)) return false;
    const host = /^[a-z]+:\/\/(?:[^@/?#]*@)?([^/?#:]*)/i.exec(curl[1]!)?.[1] ?? '';
    return host !== '';
  }
  return true;
}

interface ConfigEntry {
  section: string;
  subsection: string | null;
  key: string;
  value: string | null;
}

/** git-config syntax (config.c), as far as .gitmodules needs it; stops at the first error. */
function* configEntries(text: string): Generator<ConfigEntry> {
  let i = 0;
  let section: string | null = null;
  let subsection: string | null = null;
  const at = () => text[i];
  const skipSpace = () => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\r')) i++;
  };
  const skipLine = () => {
    while (i < text.length && text[i] !== '\n') i++;
    i++;
  };
  while (i < text.length) {
    skipSpace();
    const c = at();
    if (c === undefined) return;
    if (c === '\n') {
      i++;
      continue;
    }
    if (c === '#' || c === ';') {
      skipLine();
      continue;
    }
    if (c === '[') {
      i++;
      let name = '';
      while (i < text.length && /[A-Za-z0-9.-]/.test(text[i]!)) name += text[i++];
      subsection = null;
      if (at() === ' ' || at() === '\t') {
        skipSpace();
        if (at() !== '"') return;
        i++;
        let sub = '';
        for (;;) {
          const ch = text[i++];
          if (ch === undefined || ch === '\n') return;
          if (ch === '"') break;
          if (ch === '\\') {
            const next = text[i++];
            if (next === undefined || next === '\n') return;
            sub += next;
          } else sub += ch;
        }
        subsection = sub;
      } else if (name.includes('.')) {
        // legacy [section.subsection]: subsection lowercased
        const dot = name.indexOf('.');
        subsection = name.slice(dot + 1).toLowerCase();
        name = name.slice(0, dot);
      }
      if (at() !== ']' || name === '') return;
      i++;
      section = name.toLowerCase();
      continue;
    }
    if (!/[A-Za-z]/.test(c)) return;
    let key = '';
    while (i < text.length && /[A-Za-z0-9-]/.test(text[i]!)) key += text[i++];
    skipSpace();
    let value: string | null = null;
    if (at() === '=') {
      i++;
      value = readValue();
      if (value === null) return;
    } else if (at() !== undefined && at() !== '\n' && at() !== '#' && at() !== ';') return;
    else skipLine();
    if (section === null) return;
    yield { section, subsection, key: key.toLowerCase(), value };
  }

  // parse_value: trims, joins continuation lines, handles quotes, escapes and comments
  function readValue(): string | null {
    skipSpace();
    let out = '';
    let pending = '';
    let quoted = false;
    for (;;) {
      const ch = text[i++];
      if (ch === undefined || (ch === '\n' && !quoted)) break;
      if (ch === '\n') return null; // newline inside quotes
      if (!quoted && (ch === '#' || ch === ';')) {
        skipLine();
        break;
      }
      if (!quoted && (ch === ' ' || ch === '\t')) {
        if (out !== '') pending += ch;
        continue;
      }
      out += pending;
      pending = '';
      if (ch === '"') {
        quoted = !quoted;
        continue;
      }
      if (ch === '\\') {
        const next = text[i++];
        if (next === '\n') continue;
        const map: Record<string, string> = { n: '\n', t: '\t', b: '\b', '"': '"', '\\': '\\' };
        if (next === undefined || !(next in map)) return null;
        out += map[next];
        continue;
      }
      out += ch;
    }
    return quoted ? null : out;
  }
}
