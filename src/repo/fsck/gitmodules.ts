// fsck_gitmodules_fn (fsck.c): a .gitmodules blob read as git config; submodule names that
// climb out of .git/modules, URLs and paths that smuggle options, `update = !command`.
import { parseGitConfig } from './git-config.js';
import type { Reporter } from './reporter.js';
import { urlDecode, urlNormalize } from './url-normalize.js';

const isSep = (c: string | undefined) => c === '/' || c === '\\';

/** check_submodule_name: not empty, no '..' path component (either separator). */
export function isValidSubmoduleName(name: string): boolean {
  if (name === '') return false;
  for (let i = 0; i <= name.length; i++) {
    if (i === 0 || isSep(name[i - 1])) {
      if (name[i] === '.' && name[i + 1] === '.' && (i + 2 >= name.length || isSep(name[i + 2]))) return false;
    }
  }
  return true;
}

const startsWithDotSlash = (s: string) => s[0] === '.' && isSep(s[1]);
const startsWithDotDotSlash = (s: string) => s[0] === '.' && s[1] === '.' && isSep(s[2]);

/** check_submodule_url (submodule-config.c). */
export function isValidSubmoduleUrl(url: string): boolean {
  if (url[0] === '-') return false;
  if (startsWithDotSlash(url) || startsWithDotDotSlash(url) || url.startsWith('git://')) {
    if (urlDecode(url).includes('\n')) return false;
    // "../" past the root can turn into the host part of the superproject's URL
    let next = url;
    let dotdots = 0;
    for (;;) {
      if (startsWithDotDotSlash(next)) {
        dotdots++;
        next = next.slice(3);
      } else if (startsWithDotSlash(next)) next = next.slice(2);
      else break;
    }
    return !(dotdots > 0 && (next[0] === ':' || next[0] === '/'));
  }
  const curl = /^(?:https?|ftps?)::/.exec(url) ? url.slice(url.indexOf('::') + 2) : /^(?:https?|ftps?):\/\//.test(url) ? url : null;
  if (curl === null) return true;
  const normalized = urlNormalize(curl);
  return normalized !== null && !urlDecode(normalized).includes('\n');
}

/** git reads config values as C strings: a NUL ends them. */
const cString = (s: string) => {
  const nul = s.indexOf('\0');
  return nul < 0 ? s : s.slice(0, nul);
};

/** Latin1 (bytes) back to text for a message. */
const shown = (s: string) => Buffer.from(s, 'latin1').toString('utf8');

export function fsckGitmodules(content: Buffer, r: Reporter): void {
  const parsed = parseGitConfig(content.toString('latin1'), (rawName, rawValue) => {
    const name = cString(rawName);
    // parse_config_key(name, "submodule", &subsection, ...): needs a subsection
    if (!name.startsWith('submodule.')) return;
    const rest = name.slice('submodule.'.length);
    const dot = rest.lastIndexOf('.');
    if (dot < 0) return;
    const subsection = rest.slice(0, dot);
    const key = rest.slice(dot + 1);
    const value = rawValue === null ? null : cString(rawValue);
    if (!isValidSubmoduleName(subsection)) r.report('gitmodulesName', `disallowed submodule name: ${shown(subsection)}`);
    if (key === 'url' && value !== null && !isValidSubmoduleUrl(value)) r.report('gitmodulesUrl', `disallowed submodule url: ${shown(value)}`);
    if (key === 'path' && value !== null && value[0] === '-') r.report('gitmodulesPath', `disallowed submodule path: ${shown(value)}`);
    if (key === 'update' && value !== null && value[0] === '!') {
      r.report('gitmodulesUpdate', `disallowed submodule update setting: ${shown(value)}`);
    }
  });
  if (!parsed) r.report('gitmodulesParse', 'could not parse gitmodules blob');
}
