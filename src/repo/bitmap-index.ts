// The reachability bitmap of a repository, if it has a usable one: like C Git, one pack's
// .bitmap (the largest pack that has one), with its pack order from the .rev file or, without
// one, from the .idx offsets. Loaded once per pack file and kept while the pack is open and
// the bitmap cache's byte budget (GITGATE_BITMAP_CACHE_BYTES, bitmapPool) holds it.
// A bitmap that fails any check is ignored with a warning; callers then walk the history. A
// .rev that fails one is ignored with a warning (the order comes from the .idx).
import path from 'node:path';
import type { PackFile } from '../pack/pack-file.js';
import { BitmapFile, BitmapFormatError, parseBitmap, parseRev } from '../pack/bitmap-format.js';
import type { Bitset } from '../pack/ewah.js';
import type { ObjectType } from '../pack/types.js';
import { ByteLru, BytePool } from '../pack/lru-cache.js';
import { PackPositions } from './pack-positions.js';
import { ReachMemo } from './bitmap-walk.js';
import type { Repository } from './repository.js';

/** Bytes of a decoded bitmap (BitmapFile keeps this many resolved ones, a bit per object each). */
const DECODED_KEPT = 64;
/** Reachability of root sets computed by walks (bitmap-walk.ts ReachMemo), a bit per object each. */
const MEMO_KEPT = 4;
/**
 * Per pack, what walks over its bitmap found. It outlives the loaded bitmap, which the cache
 * drops after a few idle seconds (clones minutes apart each loaded it and walked again): a few
 * bits per object, against a walk of the refs without stored bitmaps (git.git: ~0.5 s) each time.
 */
const memos = new WeakMap<PackFile, ReachMemo>();

function memoOf(pack: PackFile): ReachMemo {
  let memo = memos.get(pack);
  if (!memo) memos.set(pack, (memo = new ReachMemo(MEMO_KEPT)));
  return memo;
}

/**
 * Loaded bitmaps of every repository share this budget (GITGATE_BITMAP_CACHE_BYTES); one
 * bitmap may take all of it (a large repository's is worth keeping whole, or not at all).
 */
export const bitmapPool = new BytePool(64 * 1024 * 1024, 1);
const cache = new ByteLru<PackFile, { index: BitmapIndex; bytes: number }>(bitmapPool);
/** Packs whose closing drops their cached bitmap. */
const watched = new WeakSet<PackFile>();

export class BitmapIndex extends PackPositions {
  /** .idx position of a commit → its entry number in the bitmap file. */
  private readonly entryOf = new Map<number, number>();
  readonly memo: ReachMemo;

  constructor(
    pack: PackFile,
    readonly file: BitmapFile,
    packOrder: Uint32Array,
  ) {
    super(pack, packOrder);
    this.memo = memoOf(pack);
    file.entries.forEach((e, i) => this.entryOf.set(e.indexPos, i));
  }

  /** Offset in the pack of the object at a bit position. */
  offsetAt(pos: number): number {
    return this.pack.index.offsetAt(this.packOrder[pos]!);
  }

  typeAt(pos: number): ObjectType {
    const t = this.file.types;
    if (t.commits.has(pos)) return 'commit';
    if (t.trees.has(pos)) return 'tree';
    if (t.blobs.has(pos)) return 'blob';
    return 'tag';
  }

  /** The stored reachability bitmap of the commit at this bit position, if it has one. Do not modify it. */
  stored(pos: number): Bitset | null {
    const entry = this.entryOf.get(this.packOrder[pos]!);
    return entry === undefined ? null : this.file.bitmap(entry);
  }

  get storedCount(): number {
    return this.entryOf.size;
  }

  /** What it may hold: the file, two position tables, the type bitmaps and the decoded bitmaps it keeps, the entry map (not the pack's memo). */
  get bytes(): number {
    const bitset = Math.ceil(this.count / 8);
    return this.file.byteLength + this.count * 8 + (4 + DECODED_KEPT) * bitset + this.entryOf.size * 64;
  }
}

type Warn = (message: string, detail: { pack: string; reason: string }) => void;
let warn: Warn = (message, d) => process.stderr.write(`gitgate: ${message} (${d.pack}: ${d.reason})\n`);

/** Where warnings about unusable bitmaps go (the server wires its logger here). */
export function setBitmapWarningHandler(fn: Warn): void {
  warn = fn;
}

export function bitmapWarning(message: string, detail: { pack: string; reason: string }): void {
  warn(message, detail);
}

interface Loaded {
  at: number;
  index: Promise<BitmapIndex | null>;
}
/**
 * Per pack: its bitmap being loaded, or found missing (then looked for again after a while: a
 * bitmap may be written later). A loaded bitmap moves to the byte-bounded cache.
 */
const loaded = new WeakMap<PackFile, Loaded>();
/** Packs whose bitmap failed a check: ignored for as long as the pack is open. */
const broken = new WeakSet<PackFile>();
const RECHECK_MISSING_MS = 10_000;

/** Forget what is known of a pack's bitmap (one was just written). */
export function forgetBitmap(pack: PackFile): void {
  loaded.delete(pack);
  cache.delete(pack);
  memos.delete(pack);
}

/** The bitmap to use for this repository now, or null. Callers pin the object store while they use it. */
export async function repositoryBitmap(repo: Repository): Promise<BitmapIndex | null> {
  const infos = (await repo.objects.packInfos()).slice().sort((a, b) => b.count - a.count);
  for (const { name, pack } of infos) {
    const index = await packBitmap(repo, name, pack);
    if (index) return index;
  }
  return null;
}

function packBitmap(repo: Repository, name: string, pack: PackFile): Promise<BitmapIndex | null> {
  if (broken.has(pack)) return Promise.resolve(null);
  const hit = cache.get(pack);
  if (hit) return Promise.resolve(hit.index);
  const now = Date.now();
  const known = loaded.get(pack);
  if (known && (known.at === Infinity || now - known.at < RECHECK_MISSING_MS)) return known.index;
  const index = load(repo, name, pack);
  // a bitmap found (or found broken) is final for this pack; a missing one is looked for again
  const entry: Loaded = { at: now, index };
  loaded.set(pack, entry);
  void index.then(
    (bi) => {
      if (!bi || loaded.get(pack) !== entry) return;
      // kept while the budget allows (too large for it: read again on each use)
      loaded.delete(pack);
      if (pack.closed) return;
      cache.set(pack, { index: bi, bytes: bi.bytes });
      if (!watched.has(pack)) watched.add(pack), pack.onClose(() => cache.delete(pack));
    },
    () => undefined,
  );
  return index;
}

async function load(repo: Repository, name: string, pack: PackFile): Promise<BitmapIndex | null> {
  const base = path.join(repo.packDir, name);
  let buf: Buffer | null;
  try {
    buf = await repo.storage.readFileOrNull(`${base}.bitmap`);
  } catch (err) {
    warn('reachability bitmap unreadable, ignored', { pack: name, reason: (err as Error).message });
    return null;
  }
  if (!buf) return null;
  const { index } = pack;
  try {
    const file = parseBitmap(buf, index.count, index.packChecksum);
    const order = (await readRev(repo, name, pack)) ?? index.packOrder();
    const bi = new BitmapIndex(pack, file, order);
    for (const e of file.entries) {
      if (!file.types.commits.has(bi.positionOfIndex(e.indexPos))) throw new BitmapFormatError('bitmap entry for an object that is not a commit');
    }
    return bi;
  } catch (err) {
    if (!(err instanceof BitmapFormatError)) throw err;
    warn('reachability bitmap is corrupt, ignored', { pack: name, reason: err.message });
    broken.add(pack); // never re-read and trusted
    return null;
  }
}

/**
 * The pack order from the pack's .rev, which then also serves as its index's reverse index (no
 * sort: git.git ~0.1 s on every load after an idle drop). Without one (C Git before 2.41 writes
 * none with its bitmaps), or with one that fails a check (ignored: the order is derived from
 * the .idx instead), maintenance is asked to write it.
 */
async function readRev(repo: Repository, name: string, pack: PackFile): Promise<Uint32Array | null> {
  const { index } = pack;
  const held = index.revOrder(); // adopted when the pack was opened
  if (held) return held;
  const rev = await repo.storage.readFileOrNull(`${path.join(repo.packDir, name)}.rev`).catch(() => null);
  if (rev) {
    try {
      const order = parseRev(rev, index.count, index.packChecksum);
      if (!index.adoptPackOrder(order)) throw new BitmapFormatError('reverse index is not in pack order');
      return order;
    } catch (err) {
      if (!(err instanceof BitmapFormatError)) throw err;
      warn('reverse index is corrupt, ignored', { pack: name, reason: err.message });
      return null; // not replaced: a file gitgate did not write stays for an operator to look at
    }
  }
  repo.maintenance.scheduleBitmap();
  return null;
}
