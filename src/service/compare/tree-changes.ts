// File changes between two trees as `git diff -M100%` sees them: added, deleted, modified and
// type-changed entries in path order, with exact renames (same blob) paired up. Inexact renames
// (edited while moved) stay a deletion plus an addition.
import type { Repository } from '../../repo/repository.js';
import { fileDiffs, fileType, type FileDiff } from '../content/tree.js';

export interface FileChange extends Omit<FileDiff, 'status'> {
  /** 'changed': the file type changed (file, symlink, submodule), GitHub's word for it. */
  status: FileDiff['status'] | 'renamed';
}

/** Octal mode padded as git prints it (040000 is never a file here). */
export function fullMode(mode: string): string {
  return mode.padStart(6, '0');
}

/**
 * Changes from tree `a` to tree `b`. An added file whose blob a deleted file had (same file type)
 * is a rename; each deleted file is the source of at most one rename, one with the same base
 * name preferred, else the first in path order. The rename sits where the new path sorts.
 */
export async function treeChanges(repo: Repository, a: string | null, b: string | null): Promise<FileChange[]> {
  const changes: FileChange[] = await fileDiffs(repo, a, b);
  const sources = new Map<string, FileChange[]>();
  for (const c of changes) if (c.status === 'removed') sources.set(c.old!.oid, [...(sources.get(c.old!.oid) ?? []), c]);
  const used = new Set<FileChange>();
  const base = (p: string) => p.slice(p.lastIndexOf('/') + 1);
  const out: FileChange[] = [];
  for (const c of changes) {
    if (c.status !== 'added') {
      out.push(c);
      continue;
    }
    const candidates = (sources.get(c.new!.oid) ?? []).filter((s) => !used.has(s) && fileType(s.old!.mode) === fileType(c.new!.mode));
    const src = candidates.find((s) => base(s.old!.path) === base(c.new!.path)) ?? candidates[0];
    if (!src) {
      out.push(c);
      continue;
    }
    used.add(src);
    out.push({ status: 'renamed', old: src.old, new: c.new });
  }
  return out.filter((c) => !used.has(c));
}
