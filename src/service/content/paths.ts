// The one validator of repository-relative file paths from REST callers, for every write
// (create, update, file PUT/DELETE) and read: POSIX, no traversal, no absolute paths, no NUL,
// and never a name some file system treats as '.git' ('.git', '.GIT', NTFS 'git~1', '.git.',
// '.git ', '.git::$INDEX_ALLOCATION', HFS+ ignorable code points). The '.git' rules are the
// fsck's own (isNtfsDotGit/isHfsDotGit), so a path accepted here never makes a tree that
// `git fsck` (hasDotgit) or a receive.fsckObjects server refuses.
import { GitgateError } from '../../errors.js';
import { isHfsDotGit, isNtfsDotGit } from '../../repo/fsck/names.js';

export function contentPath(raw: string): string {
  const bad = (detail: string) => new GitgateError('BAD_PATH', { detail });
  if (typeof raw !== 'string' || raw.length === 0) throw bad('path is empty');
  if (raw.includes('\0')) throw bad('path contains NUL');
  if (raw.includes('\\')) throw bad('use "/" as the separator');
  if (raw.startsWith('/')) throw bad('absolute paths are not allowed');
  if (Buffer.byteLength(raw) > 4096) throw bad('path is too long');
  if (raw.endsWith('/')) throw bad('path names a directory');
  for (const part of raw.split('/')) {
    if (part === '') throw bad(`empty path component in ${JSON.stringify(raw)}`);
    if (part === '.' || part === '..') throw bad(`"${part}" components are not allowed`);
    if (isNtfsDotGit(part) || isHfsDotGit(part)) {
      throw bad(part.toLowerCase() === '.git' ? '.git components are not allowed' : `${JSON.stringify(part)} is treated as .git by some file systems`);
    }
  }
  return raw;
}

/** The path of a `*path` wildcard route: Express gives decoded segments; '%2F' inside one is a separator too. */
export function pathFromSegments(segments: string | string[] | undefined): string {
  const joined = Array.isArray(segments) ? segments.join('/') : (segments ?? '');
  return contentPath(joined);
}
