// Reads through the content API: every tracked text file as JSON, or one file's raw bytes.
import { GitgateError } from '../../errors.js';
import { isTreeMode } from '../../repo/objects.js';
import type { Repository } from '../../repo/repository.js';
import { contentPath } from './paths.js';
import { commitTree, isBinary, isRegularFileMode, listFiles, lookupPath, readObjectOfType, resolveReadCommit, type CommitSelector } from './tree.js';

export interface CloneFile {
  filename: string;
  content: string;
}

/**
 * Relace's clone: every tracked regular file of the commit whose content is text (no NUL in
 * its first 8000 bytes, valid UTF-8), in path order. Symlinks and submodules are skipped.
 */
export async function cloneFiles(repo: Repository, sel: CommitSelector = {}): Promise<{ files: CloneFile[] }> {
  const commit = await resolveReadCommit(repo, sel);
  if (!commit) return { files: [] };
  const files: CloneFile[] = [];
  for (const entry of await listFiles(repo, await commitTree(repo, commit))) {
    if (!isRegularFileMode(entry.mode)) continue;
    const content = await readObjectOfType(repo, entry.oid, 'blob');
    if (isBinary(content)) continue;
    files.push({ filename: entry.path, content: content.toString('utf8') });
  }
  return { files };
}

/** One file's bytes at HEAD (or a given commit); 404 FILE_NOT_FOUND for a missing path or a directory. */
export async function readFileAt(repo: Repository, rawPath: string, sel: CommitSelector = {}): Promise<{ commit: string; content: Buffer }> {
  const path = contentPath(rawPath);
  const commit = await resolveReadCommit(repo, sel);
  if (!commit) throw new GitgateError('FILE_NOT_FOUND', { path });
  const entry = await lookupPath(repo, await commitTree(repo, commit), path);
  if (!entry || isTreeMode(entry.mode) || entry.mode === '160000') throw new GitgateError('FILE_NOT_FOUND', { path });
  return { commit, content: await readObjectOfType(repo, entry.oid, 'blob') };
}
