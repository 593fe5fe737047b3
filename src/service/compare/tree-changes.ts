// File changes between two trees as `git diff -M100%` sees them: added, deleted, modified and
// type-changed entries in path order, with exact renames (same blob) paired up. Inexact renames
// (edited while moved) stay a deletion plus an addition.
import { isTreeMode } from '../../repo/objects/tree.js';
import type { Repository } from '../../repo/repository.js';
import { readTree } from '../content/tree.js';

export interface Side {
  path: string;
  mode: string;
  oid: string;
}

export interface FileChange {
  /** 'changed': the file type changed (file, symlink, submodule), GitHub's word for it. */
  status: 'added' | 'removed' | 'modified' | 'renamed' | 'changed';
  old: Side | null;
  new: Side | null;
}

/** Octal mode padded as git prints it (040000 is never a file here). */
export function fullMode(mode: string): string {
  return mode.padStart(6, '0');
}

function fileType(mode: string): number {
  return parseInt(mode, 8) & 0o170000;
}

async function collect(repo: Repository, a: string | null, b: string | null): Promise<FileChange[]> {
  const out: FileChange[] = [];
  const walk = async (x: string | null, y: string | null, prefix: string): Promise<void> => {
    if (x === y) return;
    const xs = new Map((x ? await readTree(repo, x) : []).map((e) => [e.name, e]));
    const ys = new Map((y ? await readTree(repo, y) : []).map((e) => [e.name, e]));
    for (const name of new Set([...xs.keys(), ...ys.keys()])) {
      const ex = xs.get(name);
      const ey = ys.get(name);
      const path = prefix + name;
      const xTree = !!ex && isTreeMode(ex.mode);
      const yTree = !!ey && isTreeMode(ey.mode);
      if (xTree || yTree) await walk(xTree ? ex.oid : null, yTree ? ey.oid : null, `${path}/`);
      const xf = ex && !xTree ? { path, mode: ex.mode, oid: ex.oid } : null;
      const yf = ey && !yTree ? { path, mode: ey.mode, oid: ey.oid } : null;
      if (xf && yf) {
        if (xf.oid === yf.oid && xf.mode === yf.mode) continue;
        out.push({ status: fileType(xf.mode) !== fileType(yf.mode) ? 'changed' : 'modified', old: xf, new: yf });
      } else if (xf) out.push({ status: 'removed', old: xf, new: null });
      else if (yf) out.push({ status: 'added', old: null, new: yf });
    }
  };
  await walk(a, b, '');
  // path order, bytewise (tree order for full paths)
  return out
    .map((c) => ({ c, key: Buffer.from((c.new ?? c.old)!.path) }))
    .sort((p, q) => Buffer.compare(p.key, q.key))
    .map((e) => e.c);
}

/**
 * Changes from tree `a` to tree `b`. An added file whose blob a deleted file had (same file type)
 * is a rename; each deleted file is the source of at most one rename, one with the same base
 * name preferred, else the first in path order. The rename sits where the new path sorts.
 */
export async function treeChanges(repo: Repository, a: string | null, b: string | null): Promise<FileChange[]> {
  const changes = await collect(repo, a, b);
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
