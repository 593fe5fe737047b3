// Path validation for every content-API file operation: normalizeRepoPath's rules (no '..',
// no absolute paths, no '.git', no NUL) plus the names file systems treat as '.git'
// (NTFS 'git~1', '.git.', HFS+ ignorable code points), which `git fsck` rejects too.
import { GitgateError } from '../../errors.js';
import { isHfsDotGit, isNtfsDotGit } from '../../repo/objects.js';
import { normalizeRepoPath } from '../paths.js';

export function contentPath(raw: string): string {
  const path = normalizeRepoPath(raw);
  for (const part of path.split('/')) {
    if (isNtfsDotGit(part) || isHfsDotGit(part)) {
      throw new GitgateError('BAD_PATH', { detail: `${JSON.stringify(part)} is treated as .git by some file systems` });
    }
  }
  return path;
}

/** The path of a `*path` wildcard route: Express gives decoded segments; '%2F' inside one is a separator too. */
export function pathFromSegments(segments: string | string[] | undefined): string {
  const joined = Array.isArray(segments) ? segments.join('/') : (segments ?? '');
  return contentPath(joined);
}
