// Fetch planning from the reachability bitmap: the object list of a clone or a fetch with
// haves (SendPlan, as planObjects makes it by walking), and C Git's ok_to_give_up question.
// Each returns null when the repository has no usable bitmap; the caller then walks.
import { isGitgateError } from '../errors.js';
import { repositoryBitmap, type BitmapIndex } from './bitmap-index.js';
import { ObjectBits, reachBits } from './bitmap-walk.js';
import { CommitReader, type CommitInfo } from './commit-walk.js';
import { thinBases, type ObjectToSend, type SendPlan } from './reachability.js';
import type { Repository } from './repository.js';
import { nextTurn } from '../event-loop.js';
import type { Bitset } from '../pack/ewah.js';
import { PackReuse } from '../pack/pack-reuse.js';

/** Fetches sending more commits than this skip the thin-pack pairing of changed files. */
const THIN_BASES_MAX_COMMITS = 5000;
/** ok_to_give_up by bitmap for at most this many wants (one reachability set each). */
const GIVE_UP_MAX_WANTS = 64;

/**
 * Objects for wants \ haves (haves: commits we have), without shallow boundaries or filters.
 * Pack objects come in pack order, then the others.
 */
export async function bitmapPlan(repo: Repository, wants: string[], haves: string[]): Promise<SendPlan | null> {
  const bi = await repositoryBitmap(repo);
  if (!bi) return null;
  const bits = new ObjectBits(bi);
  try {
    return await plan(repo, bi, bits, wants, haves);
  } finally {
    bits.release();
  }
}

async function plan(repo: Repository, bi: BitmapIndex, bits: ObjectBits, wants: string[], haves: string[]): Promise<SendPlan | null> {
  let have: Bitset | null = null;
  if (haves.length) {
    try {
      have = await reachBits(repo, bits, haves);
    } catch (err) {
      // a have whose history is incomplete here: the walk only needs the edges
      if (isGitgateError(err, 'OBJECT_NOT_FOUND')) return null;
      throw err;
    }
  }
  const want = await reachBits(repo, bits, wants, have);
  if (have) want.andNot(have);

  const objects: ObjectToSend[] = [];
  const commits: string[] = [];
  const offsets: number[] = [];
  // every object of the pack wanted (a full clone): the pack goes as it is, unlisted; else,
  // for a full clone, its wanted entries go as one copied run (pack reuse), unlisted too
  const whole = have === null && coversPrefix(want, bits.n);
  const reuse = have === null && !whole ? new PackReuse(bi.pack, want) : undefined;
  let k = 0;
  // the pack's positions come first: sent whole or reused, they are not listed
  for (let pos = want.nextSet(whole || reuse ? bits.n : 0); pos >= 0; pos = want.nextSet(pos + 1)) {
    if (++k % 4096 === 0) await nextTurn();
    const oid = bits.oidAt(pos);
    const type = bits.typeAt(pos);
    if (type === 'commit') commits.push(oid);
    objects.push({ oid, type });
    if (pos < bits.n) offsets.push(bi.offsetAt(pos)); // pack positions come first, in pack order
  }
  const present = { hasHex: (oid: string) => have !== null && have.has(bits.lookupHex(oid)) };
  let deltaBases: Map<string, string> | undefined;
  if (have && commits.length <= THIN_BASES_MAX_COMMITS) {
    const reader = new CommitReader(repo.objects);
    const sent: CommitInfo[] = [];
    const boundary = new Map<string, CommitInfo>();
    for (const oid of commits) {
      const c = await reader.get(oid);
      sent.push(c);
      for (const p of c.parents) if (!boundary.has(p) && present.hasHex(p)) boundary.set(p, await reader.get(p));
    }
    deltaBases = await thinBases(repo.objects, sent, [...boundary.values()], present);
  }
  const located = { pack: bi.pack, offsets: Float64Array.from(offsets) };
  let commitCount = commits.length + (whole ? bi.file.types.commits.size : 0);
  if (reuse) commitCount += bi.file.types.commits.countAnd(want, bits.n);
  return { objects, wholePacks: whole ? [bi.pack] : undefined, reuse, located, clientHas: { has: present.hasHex }, deltaBases, commitCount };
}

/** Are bits 0..n-1 all set? */
function coversPrefix(bits: Bitset, n: number): boolean {
  const w = bits.words;
  const full = n >>> 5;
  if (w.length < full + (n & 31 ? 1 : 0)) return false;
  for (let k = 0; k < full; k++) if (w[k] !== 0xffffffff) return false;
  const rest = n & 31;
  return rest === 0 || (w[full]! & ((1 << rest) - 1)) >>> 0 === ((1 << rest) - 1) >>> 0;
}

/** Whether every want reaches one of the commons, or null to walk instead. */
export async function bitmapAllReachAny(repo: Repository, wants: string[], commons: string[]): Promise<boolean | null> {
  if (wants.length > GIVE_UP_MAX_WANTS) return null;
  const bi = await repositoryBitmap(repo);
  if (!bi) return null;
  const bits = new ObjectBits(bi);
  try {
    const common = new Set(commons);
    for (const want of new Set(wants)) {
      if (common.has(want)) continue;
      const reach = await reachBits(repo, bits, [want]);
      if (!commons.some((c) => reach.has(bits.lookupHex(c)))) return false;
    }
    return true;
  } finally {
    bits.release();
  }
}
