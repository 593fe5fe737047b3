// Repository-relative file paths from REST callers: POSIX, no traversal, never into .git.
import { GitgateError } from '../errors.js';

export function normalizeRepoPath(raw: string): string {
  const bad = (detail: string) => new GitgateError('BAD_PATH', { detail });
  if (typeof raw !== 'string' || raw.length === 0) throw bad('path is empty');
  if (raw.includes('\0')) throw bad('path contains NUL');
  if (raw.includes('\\')) throw bad('use "/" as the separator');
  if (raw.startsWith('/')) throw bad('absolute paths are not allowed');
  if (Buffer.byteLength(raw) > 4096) throw bad('path is too long');
  if (raw.endsWith('/')) throw bad('path names a directory');
  const parts = raw.split('/');
  for (const part of parts) {
    if (part === '') throw bad(`empty path component in ${JSON.stringify(raw)}`);
    if (part === '.' || part === '..') throw bad(`"${part}" components are not allowed`);
    if (part.toLowerCase() === '.git') throw bad('.git components are not allowed');
  }
  return raw;
}
