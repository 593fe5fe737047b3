// "Which objects does this fetch need", answered with the reachability bitmap (C Git's
// find_objects in pack-bitmap.c): the objects of the wants are the OR of the stored bitmaps of
// the commits they reach first; only commits newer than those (pushed since the bitmap was
// written) are walked, with their trees down to objects already in the set. A fetch with haves
// sends wants \ haves, both computed that way; the walk of the wants does not enter objects
// the client has.
//
// Objects outside the bitmapped pack get positions after the pack's (C Git's "extended
// index"). Shallow and filtered fetches are not answered here (the caller walks).
import { GitgateError } from '../errors.js';
import { nextTurn } from '../event-loop.js';
import { Bitset } from '../pack/ewah.js';
import type { ObjectType } from '../pack/types.js';
import { CommitReader, DateQueue, type CommitInfo } from './commit-walk.js';
import { TREE_ENTRY_GITLINK, TREE_ENTRY_TREE, TreeScanner } from './objects/tree-scanner.js';
import { parseTag } from './objects/tag.js';
import { TreeMemo } from './tree-memo.js';
import type { Repository } from './repository.js';

const YIELD_EVERY = 1024;
/**
 * Lookups by id after which a request holds the bitmapped pack's ids in memory (one read of
 * the .idx id table) until it ends: once an idle server has dropped the index's cached blocks,
 * each lookup is a 4 KiB block read (git.git: a clone looks up its 1,016 refs and the trees of
 * the commits pushed since the bitmap, ~45 ms of reads against ~3 ms for the 8 MB table).
 */
export const HOLD_IDS_AFTER_LOOKUPS = 256;

/** What a walk needs of a bitmapped pack (BitmapIndex when reading, the writer's own when writing). */
export interface ReachIndex {
  readonly count: number;
  /** Bit position of the 20-byte id at `buf[at]`, or -1 outside the pack. */
  position(buf: Buffer, at?: number): number;
  positionHex(oid: string): number;
  oidAt(pos: number): Buffer;
  typeAt(pos: number): ObjectType;
  /** The complete reachability bitmap of the commit at `pos`, if known (not to be modified). */
  stored(pos: number): Bitset | null;
  /** Where reachBits keeps what it computed for sets of the pack's objects (a reader's; none while writing). */
  readonly memo?: ReachMemo;
  /** Keep the pack's ids in memory until the returned function is called (PackPositions: a counted hold, cheap when already held). */
  holdIds?(): () => void;
}

/**
 * Complete reachability bitmaps of sets of objects of the pack, by a key naming the set. The
 * pack never changes, so neither do they: a clone after a push has the same tags and old
 * branches as the one before, and their tips without a stored bitmap (git.git: ~200 commits
 * and ~200,000 tree entries to walk, ~0.4 s) are walked once, not on every clone.
 */
export class ReachMemo {
  private readonly kept = new Map<string, Bitset>();

  constructor(readonly capacity: number) {}

  /** Not to be modified. */
  get(key: string): Bitset | undefined {
    const hit = this.kept.get(key);
    if (hit) {
      this.kept.delete(key); // most recently used last
      this.kept.set(key, hit);
    }
    return hit;
  }

  set(key: string, bits: Bitset): void {
    this.kept.delete(key);
    this.kept.set(key, bits);
    for (const old of this.kept.keys()) {
      if (this.kept.size <= this.capacity) break;
      this.kept.delete(old);
    }
  }
}

/**
 * Bit positions for one request: the pack's objects, then the others as they are met. Past
 * HOLD_IDS_AFTER_LOOKUPS lookups it holds the pack's ids: call release() when the request is done.
 */
export class ObjectBits {
  readonly n: number;
  private readonly ext = new Map<string, number>();
  private readonly extOids: string[] = [];
  private readonly extTypes: ObjectType[] = [];
  private lookups = 0;
  private releaseIds: (() => void) | null = null;

  constructor(readonly bi: ReachIndex) {
    this.n = bi.count;
  }

  /** Position of a known object, or -1. */
  lookup(buf: Buffer, at = 0): number {
    this.counted();
    const p = this.bi.position(buf, at);
    if (p >= 0) return p;
    return this.ext.get(buf.toString('hex', at, at + 20)) ?? -1;
  }

  lookupHex(oid: string): number {
    const p = this.packPositionHex(oid);
    return p >= 0 ? p : (this.ext.get(oid) ?? -1);
  }

  /** Position in the pack, or -1 (objects met outside it are not looked at). */
  packPositionHex(oid: string): number {
    this.counted();
    return this.bi.positionHex(oid);
  }

  /** Lookups by id are done: the pack's ids, if held, may go. */
  release(): void {
    this.releaseIds?.();
    this.releaseIds = null;
  }

  private counted(): void {
    if (++this.lookups === HOLD_IDS_AFTER_LOOKUPS && this.bi.holdIds) this.releaseIds = this.bi.holdIds();
  }

  /** Position of an object outside the pack, given one the first time it is met. */
  extend(oid: string, type: ObjectType): number {
    let p = this.ext.get(oid);
    if (p === undefined) {
      p = this.n + this.extOids.length;
      this.ext.set(oid, p);
      this.extOids.push(oid);
      this.extTypes.push(type);
    }
    return p;
  }

  oidAt(pos: number): string {
    return pos < this.n ? this.bi.oidAt(pos).toString('hex') : this.extOids[pos - this.n]!;
  }

  typeAt(pos: number): ObjectType {
    return pos < this.n ? this.bi.typeAt(pos) : this.extTypes[pos - this.n]!;
  }
}

/**
 * Every object reachable from `roots` that is not in `exclude` (which must itself be closed
 * under reachability, e.g. another result of this function). The result may also contain
 * objects of `exclude` (from stored bitmaps): subtract it when that matters.
 */
export async function reachBits(repo: Repository, bits: ObjectBits, roots: Iterable<string>, exclude: Bitset | null = null): Promise<Bitset> {
  const memo = bits.bi.memo;
  // with `exclude` the walk stops early: its result is not the whole closure, not to keep
  if (!memo || exclude !== null) return walk(repo, bits, roots, exclude, null);
  const inPack = new Map<number, string>();
  const rest: string[] = [];
  for (const root of roots) {
    const p = bits.packPositionHex(root);
    if (p >= 0) inPack.set(p, root);
    else rest.push(root);
  }
  if (inPack.size === 0) return walk(repo, bits, rest, null, null);
  const key = [...inPack.keys()].sort((a, b) => a - b).join(',');
  let base = memo.get(key);
  if (!base) {
    const fresh = await walk(repo, bits, inPack.values(), null, null);
    // only the pack's objects (no request-local positions): the same for every request
    if (fresh.length > bits.n) return walk(repo, bits, rest, null, fresh);
    memo.set(key, fresh);
    base = fresh;
  }
  return walk(repo, bits, rest, null, base.clone());
}

/** reachBits without the memo, adding to `start` (which it modifies) if given. */
async function walk(repo: Repository, bits: ObjectBits, roots: Iterable<string>, exclude: Bitset | null, start: Bitset | null): Promise<Bitset> {
  const store = repo.objects;
  const { bi } = bits;
  const result = start ?? new Bitset(bits.n);
  const seen = (p: number) => result.has(p) || (exclude !== null && exclude.has(p));
  const reader = new CommitReader(store);
  const queue = new DateQueue<CommitInfo>();
  const trees: string[] = [];
  let steps = 0;
  const tick = async () => {
    if (++steps % YIELD_EVERY === 0) await nextTurn();
  };

  const missing = (oid: string) => new GitgateError('OBJECT_NOT_FOUND', { oid });

  /** A commit (position known): its stored bitmap, or walk it. */
  const enterCommit = async (oid: string, pos: number): Promise<void> => {
    if (seen(pos)) return;
    const stored = pos < bits.n ? bi.stored(pos) : null;
    if (stored) {
      result.or(stored);
      return;
    }
    result.add(pos);
    queue.push(await reader.get(oid));
  };

  const positionOf = async (oid: string): Promise<number> => {
    const p = bits.lookupHex(oid);
    if (p >= 0) return p;
    const t = await store.readType(oid);
    if (!t) throw missing(oid);
    return bits.extend(oid, t.type);
  };

  for (const root of roots) {
    let oid = root;
    for (let depth = 0; depth < 64; depth++) {
      await tick();
      const pos = await positionOf(oid);
      if (seen(pos)) break;
      const type = bits.typeAt(pos);
      if (type === 'commit') {
        await enterCommit(oid, pos);
        break;
      }
      if (type === 'tree') {
        trees.push(oid); // marked and walked with the commits' trees
        break;
      }
      result.add(pos);
      if (type !== 'tag') break;
      const tag = await store.read(oid);
      if (!tag) throw missing(oid);
      oid = parseTag(tag.content).object;
    }
  }

  // each commit's tree is compared with its child's, walked just before (see TreeMemo)
  const hints: (string | null)[] = trees.map(() => null);
  const childTree = new Map<string, string>();
  for (let c = queue.pop(); c; c = queue.pop()) {
    await tick();
    trees.push(c.tree);
    hints.push(childTree.get(c.oid) ?? null);
    childTree.delete(c.oid);
    for (const p of c.parents) {
      childTree.set(p, c.tree);
      await enterCommit(p, await positionOf(p));
    }
  }

  const scanner = new TreeScanner();
  // every entry of a tree scanned in this walk is in `result` (or `exclude`) when the walk
  // ends: a later tree at the same path needs only its changed entries looked up
  const memo = new TreeMemo();
  for (const [t, root] of trees.entries()) {
    const rootPos = await positionOf(root);
    if (seen(rootPos)) continue;
    result.add(rootPos);
    const stack = [root];
    const paths = [''];
    const treeHints: (string | null)[] = [hints[t]!];
    while (stack.length) {
      await tick();
      const oid = stack.pop()!;
      const path = paths.pop()!;
      const hint = treeHints.pop()!;
      const obj = await store.read(oid);
      if (!obj || obj.type !== 'tree') throw missing(oid);
      const content = obj.content;
      const count = memo.changed(oid, path, content, scanner, hint);
      for (let k = 0; k < count; k++) {
        const kind = memo.kind(k);
        if (kind === TREE_ENTRY_GITLINK) continue; // another repository's commit
        const at = memo.oidOffset(k);
        let pos = bits.lookup(content, at);
        if (pos < 0) pos = bits.extend(content.toString('hex', at, at + 20), kind === TREE_ENTRY_TREE ? 'tree' : 'blob');
        if (seen(pos)) continue;
        result.add(pos);
        if (kind === TREE_ENTRY_TREE) {
          stack.push(content.toString('hex', at, at + 20));
          paths.push(`${path}/${content.toString('latin1', memo.entryStart(k), at - 1)}`);
          treeHints.push(memo.counterpart(k));
        }
      }
    }
  }
  return result;
}
