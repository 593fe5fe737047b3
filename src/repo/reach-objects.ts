// Every object reachable from a set of roots, like `git rev-list --objects <roots>`: tag chains,
// commits and their parents, each commit's tree right after it (so the newest trees, where
// lazy partial-clone fetches look, come first). One walk with one seen-set, whatever the
// number of targets; it stops as soon as every target has been seen.
import { GitgateError } from '../errors.js';
import { nextTurn } from '../event-loop.js';
import type { ObjectDatabase } from './object-database.js';
import { OidSet } from './oid-set.js';
import { TREE_ENTRY_GITLINK, TREE_ENTRY_TREE, TreeScanner } from './objects/tree-scanner.js';
import { parseCommit } from './objects/commit.js';
import { parseTag } from './objects/tag.js';
import { TreeMemo } from './tree-memo.js';
import { WalkIds } from './walk-ids.js';

const YIELD_EVERY = 1024;

export interface ReachOptions {
  /** Stop once all of these have been seen. */
  targets?: Iterable<string>;
  /** Only commits and tags: trees and blobs are not walked (enough when every target is a commit or tag). */
  commitsOnly?: boolean;
  /** A missing object: 'skip' it, or 'throw' (an incomplete walk must not be taken as complete). */
  missing?: 'skip' | 'throw';
  /** Marks from an earlier walk: objects in it are not walked again (and are not reported as found). */
  seen?: OidSet;
  /** Once this many objects are seen, go on to the end even when every target is found. */
  exhaustAfter?: number;
}

export interface ReachResult {
  seen: OidSet;
  /** Targets never reached (empty when all were). */
  unreached: string[];
}

export async function walkReachable(store: ObjectDatabase, roots: Iterable<string>, opts: ReachOptions = {}): Promise<ReachResult> {
  const ids = new WalkIds(store);
  try {
    return await walk(store, roots, opts, ids);
  } finally {
    await ids.release();
  }
}

async function walk(store: ObjectDatabase, roots: Iterable<string>, opts: ReachOptions, ids: WalkIds): Promise<ReachResult> {
  const seen = opts.seen ?? new OidSet(4096);
  const targetList = [...new Set(opts.targets ?? [])];
  const targets = new OidSet();
  for (const t of targetList) targets.addHex(t);
  let found = 0;
  const exhaustAfter = opts.exhaustAfter ?? Infinity;
  const complete = () => targets.size > 0 && found === targets.size && seen.size <= exhaustAfter;
  const mark = (buf: Buffer, at: number): boolean => {
    if (!seen.add(buf, at)) return false;
    if (targets.has(buf, at)) found++;
    return true;
  };
  const markHex = (oid: string): boolean => mark(Buffer.from(oid, 'hex'), 0);
  const missing = (oid: string) => {
    if (opts.missing === 'throw') throw new GitgateError('CORRUPT_REPO', { detail: `object ${oid} is missing` });
  };

  const scanner = new TreeScanner();
  const commits: string[] = []; // FIFO: tips first, then one generation after another
  let steps = 0;
  const tick = async () => {
    if (++steps % YIELD_EVERY === 0) await nextTurn();
  };

  /** Walk one object that has just been marked (blobs are not read at all). */
  const enter = async (oid: string, hint: string | null = null): Promise<void> => {
    const info = await store.readType(oid);
    if (!info) return missing(oid);
    if (info.type === 'commit') {
      commits.push(oid); // walked generation by generation below
      return;
    }
    if (info.type === 'blob' || (info.type === 'tree' && opts.commitsOnly)) return;
    const obj = await store.read(oid);
    if (!obj) return missing(oid);
    if (obj.type === 'tag') {
      const target = parseTag(obj.content).object;
      if (markHex(target)) await enter(target);
    } else if (obj.type === 'tree') await walkTree(oid, obj.content, hint);
  };

  // entries of a tree scanned in this walk are all marked: later trees at the same path need
  // only their changed entries marked
  const memo = new TreeMemo();
  const walkTree = async (root: string, rootContent: Buffer, hint: string | null): Promise<void> => {
    const stack: { oid: string; content: Buffer | null; path: string; hint: string | null }[] = [{ oid: root, content: rootContent, path: '', hint }];
    while (stack.length && !complete()) {
      await tick();
      const top = stack.pop()!;
      let content = top.content;
      if (!content) {
        await ids.read();
        const obj = await store.read(top.oid);
        if (!obj) {
          missing(top.oid);
          continue;
        }
        content = obj.content;
      }
      const count = memo.changed(top.oid, top.path, content, scanner, top.hint);
      for (let k = 0; k < count; k++) {
        const kind = memo.kind(k);
        if (kind === TREE_ENTRY_GITLINK) continue; // another repository's commit
        const at = memo.oidOffset(k);
        if (!mark(content, at)) continue;
        if (kind === TREE_ENTRY_TREE) {
          const path = `${top.path}/${content.toString('latin1', memo.entryStart(k), at - 1)}`;
          stack.push({ oid: content.toString('hex', at, at + 20), content: null, path, hint: memo.counterpart(k) });
        }
      }
    }
  };

  for (const root of roots) {
    if (complete()) break;
    if (markHex(root)) await enter(root);
  }
  const childTree = new Map<string, string>();
  for (let i = 0; i < commits.length && !complete(); i++) {
    await tick();
    const oid = commits[i]!;
    await ids.read();
    const obj = await store.read(oid);
    if (!obj) {
      missing(oid);
      continue;
    }
    const c = parseCommit(obj.content);
    // the tree of the child that queued this commit was walked before it (see TreeMemo)
    const hint = childTree.get(oid) ?? null;
    childTree.delete(oid);
    if (!opts.commitsOnly && markHex(c.tree)) await enter(c.tree, hint);
    for (const p of c.parents) if (markHex(p)) {
      commits.push(p);
      if (!opts.commitsOnly) childTree.set(p, c.tree);
    }
  }
  const unreached: string[] = [];
  if (targets.size > found) for (const t of targetList) if (!seen.hasHex(t)) unreached.push(t);
  return { seen, unreached };
}

/** Per repository, the last complete walk and the tips it started from. */
const completeWalks = new WeakMap<ObjectDatabase, { key: string; seen: OidSet }>();

/** A want-check walk that has seen this many objects runs to the end and is remembered. */
const REMEMBER_AFTER = 65_536;

/**
 * The targets no tip reaches. A walk that ran to the end (some target is unreachable, or it was
 * long: lazy fetches deep in history come in series) is kept for these tips, so the next
 * question costs lookups, not another walk.
 */
export async function unreachedFrom(store: ObjectDatabase, tips: Iterable<string>, targets: string[], opts: { commitsOnly?: boolean } = {}): Promise<string[]> {
  const roots = [...new Set(tips)]; // in the caller's order: HEAD's trees first
  const key = [...roots].sort().join(',');
  const known = completeWalks.get(store);
  if (known?.key === key) return targets.filter((t) => !known.seen.hasHex(t));
  const full = !opts.commitsOnly;
  const { seen, unreached } = await walkReachable(store, roots, { targets, commitsOnly: opts.commitsOnly, exhaustAfter: full ? REMEMBER_AFTER : undefined });
  if (full && (unreached.length > 0 || seen.size > REMEMBER_AFTER)) completeWalks.set(store, { key, seen });
  return unreached;
}
