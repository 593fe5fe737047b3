// Reads through the content API: every tracked text file as JSON, or one file's raw bytes.
import { GitgateError } from '../../errors.js';
import { isTreeMode } from '../../repo/objects/tree.js';
import type { Repository } from '../../repo/repository.js';
import { contentPath } from './paths.js';
import { commitTree, isBinary, isRegularFileMode, listFiles, lookupPath, readObjectOfType, resolveReadCommit, type CommitSelector } from './tree.js';

export interface CloneFile {
  filename: string;
  content: string;
}

/** Bounds what one read holds in memory: blob sizes are looked up (cheaply, from the pack
 *  index and entry headers) before any content is read. */
export interface ReadLimit {
  maxBytes?: number;
}

async function blobSize(repo: Repository, oid: string): Promise<number> {
  const info = await repo.objects.readType(oid);
  if (!info) throw new GitgateError('OBJECT_NOT_FOUND', { oid });
  return info.size;
}

/**
 * Relace's clone: every tracked regular file of the commit whose content is text (no NUL in
 * its first 8000 bytes, valid UTF-8), in path order. Symlinks and submodules are skipped.
 * 413 READ_TOO_LARGE when the regular files add up to more than `maxBytes` (binary files count:
 * telling them apart means reading them).
 */
export async function cloneFiles(repo: Repository, sel: CommitSelector & ReadLimit = {}): Promise<{ files: CloneFile[] }> {
  const commit = await resolveReadCommit(repo, sel);
  if (!commit) return { files: [] };
  const entries = (await listFiles(repo, await commitTree(repo, commit))).filter((e) => isRegularFileMode(e.mode));
  if (sel.maxBytes !== undefined) {
    let total = 0;
    for (const entry of entries) total += await blobSize(repo, entry.oid);
    if (total > sel.maxBytes) throw new GitgateError('READ_TOO_LARGE', { what: 'The commit\'s files', size: total, limit: sel.maxBytes });
  }
  const files: CloneFile[] = [];
  for (const entry of entries) {
    const content = await readObjectOfType(repo, entry.oid, 'blob');
    if (isBinary(content)) continue;
    files.push({ filename: entry.path, content: content.toString('utf8') });
  }
  return { files };
}

/** One file's bytes at HEAD (or a given commit); 404 FILE_NOT_FOUND for a missing path or a directory. */
export async function readFileAt(repo: Repository, rawPath: string, sel: CommitSelector & ReadLimit = {}): Promise<{ commit: string; content: Buffer }> {
  const path = contentPath(rawPath);
  const commit = await resolveReadCommit(repo, sel);
  if (!commit) throw new GitgateError('FILE_NOT_FOUND', { path });
  const entry = await lookupPath(repo, await commitTree(repo, commit), path);
  if (!entry || isTreeMode(entry.mode) || entry.mode === '160000') throw new GitgateError('FILE_NOT_FOUND', { path });
  if (sel.maxBytes !== undefined) {
    const size = await blobSize(repo, entry.oid);
    if (size > sel.maxBytes) throw new GitgateError('READ_TOO_LARGE', { what: `File ${path}`, size, limit: sel.maxBytes });
  }
  return { commit, content: await readObjectOfType(repo, entry.oid, 'blob') };
}
