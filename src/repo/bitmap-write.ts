// Writing a reachability bitmap for the repository's largest pack (what `git repack -b` does),
// so that repositories filled by pushes get one too. C Git reads what this writes: a .bitmap
// v1 with full-closure type bitmaps and one bitmap per selected commit, and a .rev file.
//
// Commits are selected as C Git's bitmap_writer_select_commits does: newest first by date,
// every one of the 100 newest, then one per 100, then one per 5,000 beyond 20,000 commits,
// preferring ref tips and merges within each window. Each bitmap is computed oldest first by
// the same walk that reads bitmaps (bitmap-walk.ts), so it ORs the bitmaps of the selected
// ancestors and walks only the commits and trees in between. Any object reached outside the
// pack means the pack is not closed under reachability: then no bitmap is written.
import path from 'node:path';
import { BitmapFormatError, writeBitmap, writeRev, type BitmapTypes } from '../pack/bitmap-format.js';
import { Bitset } from '../pack/ewah.js';
import { lowerBound } from '../pack/idx.js';
import type { PackFile } from '../pack/pack-file.js';
import { OBJ_BLOB, OBJ_COMMIT, OBJ_OFS_DELTA, OBJ_REF_DELTA, OBJ_TAG, OBJ_TREE, type ObjectType } from '../pack/types.js';
import { nextTurn } from '../event-loop.js';
import { bitmapWarning, forgetBitmap } from './bitmap-index.js';
import { ObjectBits, reachBits, type ReachIndex } from './bitmap-walk.js';
import { CommitReader, type CommitInfo } from './commit-walk.js';
import { parseTag } from './objects/tag.js';
import { OidSet } from './oid-set.js';
import { isOid } from '../oid.js';
import { PackPositions } from './pack-positions.js';
import { runInWorker } from './repack-runner.js';
import type { Repository } from './repository.js';

const TYPES: ObjectType[] = ['commit', 'tree', 'blob', 'tag'];
const CODE_TO_TYPE = new Map<number, number>([
  [OBJ_COMMIT, 0],
  [OBJ_TREE, 1],
  [OBJ_BLOB, 2],
  [OBJ_TAG, 3],
]);

/** Packs found not closed under reachability: not tried again while open. */
const unclosed = new WeakSet<PackFile>();

export interface BitmapWriteResult {
  pack: string;
  commits: number;
  bitmaps: number;
}

class WriterIndex extends PackPositions implements ReachIndex {
  readonly computed = new Map<number, Bitset>();
  /**
   * The pack's ids added in pack order: member number = bit position. Writing looks up tens of
   * millions of tree entries; a binary search of the index per lookup (a cache miss a step) was
   * most of git.git's 35 s. About 48 bytes an object, for the build only.
   */
  private readonly byId: OidSet;

  constructor(
    pack: PackFile,
    order: Uint32Array,
    readonly types: Uint8Array,
  ) {
    super(pack, order);
    this.byId = new OidSet(order.length);
    for (let p = 0; p < order.length; p++) this.byId.add(pack.index.oidAt(order[p]!));
  }
  override position(buf: Buffer, at = 0): number {
    return this.byId.indexOf(buf, at);
  }
  override positionHex(oid: string): number {
    return isOid(oid) ? this.position(Buffer.from(oid, 'hex')) : -1;
  }
  typeAt(pos: number): ObjectType {
    return TYPES[this.types[pos]!]!;
  }
  stored(pos: number): Bitset | null {
    return this.computed.get(pos) ?? null;
  }
}

/** What one attempt did: the pack it looked at, what it wrote (null: nothing), and whether that pack cannot have a bitmap. */
export interface BitmapAttempt {
  pack: string;
  written: BitmapWriteResult | null;
  unclosed: boolean;
}

/**
 * Write a bitmap (and a .rev) for the largest pack if it has none. Null when there is nothing
 * to do or the pack cannot have one (it is not closed under reachability).
 */
export async function writeRepositoryBitmap(repo: Repository, opts: { signal?: { readonly aborted: boolean } } = {}): Promise<BitmapWriteResult | null> {
  return (await bitmapLargestPack(repo, { ...opts, skip: (pack) => unclosed.has(pack) }))?.written ?? null;
}

/** A pack's entry type codes (OBJ_COMMIT…OBJ_TAG) in pack order, as its writer knew them. */
export interface KnownTypes {
  pack: string;
  typeCodes: Uint8Array;
}

/**
 * writeRepositoryBitmap's work, without its memory of unclosed packs (the worker process has
 * none). Null: no pack, or skipped. `known`: the types of a pack just written (the repack in
 * the same worker run), so that pack's entries are not read again to learn them.
 */
export async function bitmapLargestPack(
  repo: Repository,
  opts: { signal?: { readonly aborted: boolean }; skip?: (pack: PackFile, name: string) => boolean; known?: KnownTypes } = {},
): Promise<BitmapAttempt | null> {
  const store = repo.objects;
  await store.rescan();
  const release = store.pin();
  try {
    const infos = (await store.packInfos()).slice().sort((a, b) => b.count - a.count);
    const largest = infos[0];
    if (!largest || opts.skip?.(largest.pack, largest.name)) return null;
    const attempt: BitmapAttempt = { pack: largest.name, written: null, unclosed: false };
    const base = path.join(repo.packDir, largest.name);
    if (await repo.storage.exists(`${base}.bitmap`)) {
      await writeMissingRev(repo, largest.name, largest.pack);
      return attempt;
    }
    const known = opts.known?.pack === largest.name && opts.known.typeCodes.length === largest.pack.index.count ? opts.known.typeCodes : undefined;
    const built = await build(repo, largest.pack, opts.signal, known);
    if (!built) {
      if (!opts.signal?.aborted) {
        unclosed.add(largest.pack);
        attempt.unclosed = true;
      }
      return attempt;
    }
    if (opts.signal?.aborted) return attempt;
    const { index } = largest.pack;
    if (!(await repo.storage.exists(`${base}.rev`))) await repo.storage.writeFileAtomic(`${base}.rev`, writeRev(built.order, index.packChecksum));
    await repo.storage.writeFileAtomic(`${base}.bitmap`, writeBitmap({ packChecksum: index.packChecksum, types: built.types, entries: built.entries }));
    forgetBitmap(largest.pack);
    attempt.written = { pack: largest.name, commits: built.commits, bitmaps: built.entries.length };
    return attempt;
  } finally {
    release();
  }
}

/**
 * A bitmapped pack without a .rev (C Git before 2.41 writes none) gets the one `git index-pack
 * --rev-index` would write, so loading its bitmap needs no sort of the pack's offsets. Derived
 * from the .idx alone (in the server process: one sort, as every bitmap load did before).
 */
async function writeMissingRev(repo: Repository, name: string, pack: PackFile): Promise<void> {
  const file = `${path.join(repo.packDir, name)}.rev`;
  if (await repo.storage.exists(file)) return;
  await repo.storage.writeFileAtomic(file, writeRev(pack.index.packOrder(), pack.index.packChecksum));
}

/** Packs (gitdir/name) found not closed under reachability by a worker: not tried again by this process. */
const unclosedByName = new Set<string>();

/** The packs of `repo` a worker found not closed: a worker's bitmap step skips them. */
export function unclosedPacks(repo: Repository): string[] {
  const prefix = `${repo.gitdir}${path.sep}`;
  return [...unclosedByName].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length));
}

/**
 * After a repack: give the largest pack a bitmap if it has none. Failures only warn (the repack
 * stands). Repositories on disk build it in the maintenance worker process (repack-runner.ts):
 * selecting commits and ORing bitmaps over every object is seconds of CPU on a large history.
 */
export async function bitmapAfterRepack(repo: Repository, opts: { signal?: { readonly aborted: boolean }; inline?: boolean } = {}): Promise<void> {
  try {
    if (repo.storage.kind !== 'fs' || opts.inline === true) {
      await writeRepositoryBitmap(repo, { signal: opts.signal });
      return;
    }
    const largest = (await repo.objects.packInfos()).slice().sort((a, b) => b.count - a.count)[0];
    if (!largest || unclosedByName.has(path.join(repo.gitdir, largest.name))) return;
    // the usual case after a push's roll-up: the largest pack kept its bitmap (no worker to start)
    if (await repo.storage.exists(path.join(repo.packDir, `${largest.name}.bitmap`))) {
      await writeMissingRev(repo, largest.name, largest.pack);
      return;
    }
    const attempt = await runInWorker<BitmapAttempt | null>({ kind: 'bitmap', root: repo.storage.root, gitdir: repo.gitdir, owner: repo.storage.owner, ignore: repo.objects.ignoredPacks }, opts.signal);
    await noteBitmapAttempt(repo, attempt);
  } catch (err) {
    bitmapWarning('could not write a reachability bitmap', { pack: repo.id, reason: (err as Error)?.message ?? String(err) });
  }
}

/** What a worker's bitmap attempt tells this process: a pack not closed, or a bitmap to look at again; or its failure (a warning). */
export async function noteBitmapAttempt(repo: Repository, attempt: BitmapAttempt | null, error?: string): Promise<void> {
  if (error !== undefined) {
    bitmapWarning('could not write a reachability bitmap', { pack: repo.id, reason: error });
    return;
  }
  if (!attempt) return;
  if (attempt.unclosed) unclosedByName.add(path.join(repo.gitdir, attempt.pack));
  if (attempt.written) {
    // the pack's "no bitmap" is remembered for a while: look again now
    const info = (await repo.objects.packInfos()).find((p) => p.name === attempt.pack);
    if (info) forgetBitmap(info.pack);
  }
}

interface Built {
  order: Uint32Array;
  types: BitmapTypes;
  entries: { indexPos: number; bits: Bitset }[];
  commits: number;
}

async function build(repo: Repository, pack: PackFile, signal?: { readonly aborted: boolean }, typeCodes?: Uint8Array): Promise<Built | null> {
  // every object of the pack is looked up, most of them many times: the ids stay in memory
  const release = pack.index.holdIds();
  try {
    return await buildHeld(repo, pack, signal, typeCodes);
  } finally {
    release();
  }
}

async function buildHeld(repo: Repository, pack: PackFile, signal?: { readonly aborted: boolean }, typeCodes?: Uint8Array): Promise<Built | null> {
  const { index } = pack;
  const order = index.packOrder();
  const types = typeCodes ? bitmapTypes(typeCodes) : await packTypes(pack, order);
  const wi = new WriterIndex(pack, order, types);

  // Ref tips peeled to commits; only those in the pack can be selected.
  const tips = new Set<string>();
  for (const ref of await repo.refs.list()) {
    let oid = ref.oid;
    for (let depth = 0; depth < 16; depth++) {
      const pos = wi.positionHex(oid);
      if (pos < 0 || wi.typeAt(pos) === 'commit') break;
      if (wi.typeAt(pos) !== 'tag') break;
      const tag = await pack.read(Buffer.from(oid, 'hex'));
      if (!tag) break;
      oid = parseTag(tag.content).object;
    }
    tips.add(oid);
  }

  // Every commit of the pack reachable from the tips, newest first.
  const reader = new CommitReader(repo.objects);
  const commits: CommitInfo[] = [];
  const seen = new Set<string>();
  const stack = [...tips].filter((t) => {
    const pos = wi.positionHex(t);
    return pos >= 0 && wi.typeAt(pos) === 'commit';
  });
  for (const t of stack) seen.add(t);
  let steps = 0;
  while (stack.length) {
    if (++steps % 1024 === 0) await nextTurn();
    if (signal?.aborted) return null;
    const c = await reader.get(stack.pop()!);
    if (wi.positionHex(c.oid) < 0) return null; // a commit outside the pack below one inside
    commits.push(c);
    for (const p of c.parents) if (!seen.has(p)) seen.add(p), stack.push(p);
  }
  commits.sort((a, b) => b.time - a.time);
  const selected = selectCommits(commits, tips);

  // Oldest first, so each walk stops at bitmaps already computed.
  const bits = new ObjectBits(wi);
  try {
    for (const c of [...selected].reverse()) {
      if (signal?.aborted) return null;
      const pos = wi.positionHex(c.oid);
      const reach = await reachBits(repo, bits, [c.oid]);
      if (reach.length > wi.count) return null; // reached an object outside the pack
      wi.computed.set(pos, reach);
    }
  } finally {
    bits.release();
  }
  const entries = selected.map((c) => {
    const pos = wi.positionHex(c.oid);
    return { indexPos: order[pos]!, bits: wi.computed.get(pos)! };
  });
  const typeSets: BitmapTypes = { commits: new Bitset(index.count), trees: new Bitset(index.count), blobs: new Bitset(index.count), tags: new Bitset(index.count) };
  const byType = [typeSets.commits, typeSets.trees, typeSets.blobs, typeSets.tags];
  for (let p = 0; p < types.length; p++) byType[types[p]!]!.add(p);
  return { order, types: typeSets, entries, commits: commits.length };
}

/** Type codes in pack order as bitmap type numbers (commit 0, tree 1, blob 2, tag 3). */
function bitmapTypes(typeCodes: Uint8Array): Uint8Array {
  const types = new Uint8Array(typeCodes.length);
  for (let p = 0; p < typeCodes.length; p++) {
    const t = CODE_TO_TYPE.get(typeCodes[p]!);
    if (t === undefined) throw new BitmapFormatError(`object ${p} of the written pack has no type`);
    types[p] = t;
  }
  return types;
}

/** Type of every object in pack order: stored types, deltas take their base's (bases come first for ofs-deltas). */
async function packTypes(pack: PackFile, order: Uint32Array): Promise<Uint8Array> {
  const { index } = pack;
  const types = new Uint8Array(order.length);
  // position p in pack order is the p-th smallest offset: an ofs-delta's base (stored before it)
  // is found by a binary search, its type already known
  const offsets = index.sortedOffsets();
  for (let p = 0; p < order.length; p++) {
    if (p % 4096 === 4095) await nextTurn();
    const offset = offsets[p]!;
    const info = await pack.entryAt(offset);
    let t: number | undefined;
    if (info.typeCode === OBJ_OFS_DELTA) {
      const base = lowerBound(offsets, info.baseOffset!);
      if (base < p && offsets[base] === info.baseOffset) t = types[base];
    } else if (info.typeCode !== OBJ_REF_DELTA) t = CODE_TO_TYPE.get(info.typeCode);
    if (t === undefined) {
      const rt = await pack.readType(index.oidAt(order[p]!));
      if (!rt) throw new BitmapFormatError(`object at offset ${offset} has no type`);
      t = TYPES.indexOf(rt.type);
    }
    types[p] = t;
  }
  return types;
}

/** C Git's next_commit_index: how far the next selected commit lies in the newest-first list. */
function nextCommitIndex(idx: number): number {
  const MIN_COMMITS = 100;
  const MAX_COMMITS = 5000;
  const MUST_REGION = 100;
  const MIN_REGION = 20000;
  if (idx <= MUST_REGION) return 0;
  if (idx <= MIN_REGION) return Math.min(idx - MUST_REGION, MIN_COMMITS);
  return Math.min(idx - MIN_REGION, MAX_COMMITS);
}

/** bitmap_writer_select_commits: newest first, ref tips and merges preferred in each window. */
export function selectCommits(commits: CommitInfo[], tips: ReadonlySet<string>): CommitInfo[] {
  if (commits.length < 100) return commits.slice();
  const out: CommitInfo[] = [];
  for (let i = 0; ; ) {
    const next = nextCommitIndex(i);
    if (i + next >= commits.length) break;
    let chosen = commits[i + next]!;
    if (next > 0) {
      for (let j = 0; j <= next; j++) {
        const cm = commits[i + j]!;
        if (tips.has(cm.oid)) {
          chosen = cm;
          break;
        }
        if (cm.parents.length > 1) chosen = cm;
      }
    } else chosen = commits[i]!;
    out.push(chosen);
    i += next + 1;
  }
  return out;
}
