// What v0 and v2 fetches share: checking wants, negotiation, shallow planning, and the
// pack stream on side-band with progress.
import { GitgateError } from '../errors.js';
import type { PackFile } from '../pack/pack-file.js';
import type { PackReuse } from '../pack/pack-reuse.js';
import { WIRE_LEVEL, writePack } from '../pack/pack-writer.js';
import { transientBytes } from '../pack/low-memory.js';
import { CommitReader } from '../repo/commit-walk.js';
import { allReachAny } from '../repo/reach-all.js';
import { Yielder } from '../event-loop.js';
import { parseFilter, type ObjectFilter } from '../repo/object-filter.js';
import { planObjects, type ObjectToSend } from '../repo/reachability.js';
import { unreachedFrom } from '../repo/reach-objects.js';
import type { Repository } from '../repo/repository.js';
import { planDeepen, type DeepenPlan } from '../repo/shallow.js';
import { fullClonePlan } from '../repo/clone-plan-cache.js';
import { bitmapAllReachAny, bitmapPlan } from '../repo/bitmap-plan.js';
import { planPack } from './pack-stream.js';
import { advertisedTips, listRefs, peel } from './ref-listing.js';
import { BAND_DATA, BAND_ERROR, BAND_PROGRESS, BandFramer, KEEPALIVE, sidebandBuffer, whileWaiting } from './sideband.js';
import { FLUSH } from './pkt-line.js';

export interface FetchArgs {
  wants: string[];
  haves: string[];
  shallows: string[];
  depth: number | null;
  deepenSince: number | null;
  deepenNot: string[]; // ref names as sent
  deepenRelative: boolean;
  filter: string | null;
  thinPack: boolean;
  ofsDelta: boolean;
  noProgress: boolean;
  includeTag: boolean;
}

export interface WantPolicy {
  /** Any object the repository holds may be wanted (C Git's uploadpack.allowAnySHA1InWant). */
  allowAnySha1InWant?: boolean;
}

const notOurRef = (oid: string) => new GitgateError('PROTOCOL', { detail: `upload-pack: not our ref ${oid}` });

/**
 * Wants must be objects a ref reaches, whatever their type (allow-reachable-sha1-in-want):
 * a blob or tree left behind by a deleted branch is not served by id. One walk from the
 * advertised tips covers every want and stops once all are found (a walk that found some want
 * unreachable is remembered until the refs move).
 */
export async function checkWants(repo: Repository, wants: string[], policy: WantPolicy = {}): Promise<void> {
  const tips = await advertisedTips(repo);
  const pending: string[] = [];
  let commitsOnly = true;
  const yielder = new Yielder();
  for (const want of new Set(wants)) {
    if (tips.has(want)) continue;
    await yielder.tick();
    const type = await repo.objects.readType(want);
    if (!type) throw notOurRef(want);
    if (type.type === 'tree' || type.type === 'blob') commitsOnly = false;
    pending.push(want);
  }
  if (pending.length === 0 || policy.allowAnySha1InWant) return;
  const unreached = await unreachedFrom(repo.objects, tips.ids, pending, { commitsOnly });
  if (unreached.length) throw notOurRef(unreached[0]!);
}

export interface Negotiation {
  common: string[];
  ready: boolean;
}

/** The client's haves we share, and whether every want already reaches one (ok_to_give_up). */
export async function negotiate(repo: Repository, wants: string[], haves: string[], grafts: ReadonlySet<string>): Promise<Negotiation> {
  const common: string[] = [];
  const yielder = new Yielder();
  for (const have of new Set(haves)) {
    await yielder.tick();
    const t = await repo.objects.readType(have);
    if (t?.type === 'commit') common.push(have);
  }
  if (common.length === 0) return { common, ready: false };
  const commitWants: string[] = [];
  for (const want of new Set(wants)) {
    await yielder.tick();
    if ((await repo.objects.readType(want))?.type === 'commit') commitWants.push(want);
  }
  const byBitmap = grafts.size === 0 ? await bitmapAllReachAny(repo, commitWants, common) : null;
  const ready = byBitmap ?? (await allReachAny(new CommitReader(repo.objects, grafts), commitWants, new Set(common)));
  return { common, ready };
}

/** Resolve deepen-not names like C Git's expand_ref (exactly one match). */
async function resolveDeepenNot(repo: Repository, names: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const name of names) {
    const candidates = [name, `refs/${name}`, `refs/tags/${name}`, `refs/heads/${name}`, `refs/remotes/${name}`, `refs/remotes/${name}/HEAD`];
    const found: string[] = [];
    for (const c of candidates) {
      if (!c.startsWith('refs/')) continue;
      const oid = await repo.refs.resolve(c).catch(() => null);
      if (oid) found.push(oid);
    }
    if (found.length !== 1) throw new GitgateError('PROTOCOL', { detail: `git upload-pack: ambiguous deepen-not: ${name}` });
    out.push((await peel(repo, found[0]!)) ?? found[0]!);
  }
  return out;
}

export async function planShallow(repo: Repository, args: FetchArgs): Promise<DeepenPlan> {
  const refTips = args.deepenRelative ? (await repo.refs.list()).map((r) => r.oid) : [];
  return planDeepen(repo.objects, {
    wants: args.wants,
    clientShallows: args.shallows,
    depth: args.depth,
    deepenSince: args.deepenSince,
    deepenNot: await resolveDeepenNot(repo, args.deepenNot),
    deepenRelative: args.deepenRelative,
    refTips,
  });
}

export function parseFilterArg(spec: string | null): ObjectFilter | null {
  return spec === null ? null : parseFilter(spec);
}

/**
 * Annotated tags whose target is being sent (include-tag). One pass over the refs (peeled
 * values from packed-refs) and one over the objects, against the few tag targets only.
 */
async function tagsToInclude(repo: Repository, sending: ObjectToSend[], wholePacks: PackFile[], reuse?: PackReuse): Promise<ObjectToSend[]> {
  const byTarget = new Map<string, string[]>();
  for (const ref of await listRefs(repo, { peel: true, prefix: 'refs/tags/' })) {
    if (!ref.peeled) continue;
    const tags = byTarget.get(ref.peeled);
    if (tags) tags.push(ref.oid);
    else byTarget.set(ref.peeled, [ref.oid]);
  }
  if (byTarget.size === 0) return [];
  const candidates = new Set([...byTarget.values()].flat());
  const targetsSent = new Set<string>();
  const tagsSent = new Set<string>();
  for (const o of sending) {
    if (byTarget.has(o.oid)) targetsSent.add(o.oid);
    if (o.type === 'tag' && candidates.has(o.oid)) tagsSent.add(o.oid);
  }
  // objects of packs sent whole or by pack reuse are not listed: ask the packs
  const inWhole = (oid: string) => {
    const bin = Buffer.from(oid, 'hex');
    return wholePacks.some((p) => p.has(bin)) || (reuse?.has(bin) ?? false);
  };
  if (wholePacks.length || reuse) {
    for (const target of byTarget.keys()) if (inWhole(target)) targetsSent.add(target);
    for (const tag of candidates) if (inWhole(tag)) tagsSent.add(tag);
  }
  const extra: ObjectToSend[] = [];
  for (const target of targetsSent) {
    for (const tag of byTarget.get(target)!) {
      if (tagsSent.has(tag)) continue;
      tagsSent.add(tag);
      extra.push({ oid: tag, type: 'tag' });
    }
  }
  return extra;
}

/** Tests only: a delay before enumeration, and how often a waiting fetch hears from us. */
export const fetchHooks: { beforeEnumeration: (() => Promise<void>) | null; tickMs: number } = { beforeEnumeration: null, tickMs: 1000 };

/** `await work` as a generator that yields nothing (no side-band: nothing can be sent meanwhile). */
// eslint-disable-next-line require-yield
async function* settle<T>(work: Promise<T>): AsyncGenerator<Buffer, T> {
  return await work;
}

export interface PackStreamOptions {
  sidebandLimit: number | null; // null: raw pack (no side-band negotiated)
  progress: boolean;
}

/** The pack for a fetch, on side-band 1 with progress on 2 and errors on 3. Ends with flush when side-band is used. */
export async function* fetchPackStream(
  repo: Repository,
  args: FetchArgs,
  common: string[],
  shallow: DeepenPlan,
  filter: ObjectFilter | null,
  out: PackStreamOptions,
): AsyncGenerator<Buffer> {
  const limit = out.sidebandLimit;
  const band = (n: number, data: Buffer | string) => sidebandBuffer(n, typeof data === 'string' ? Buffer.from(data) : data, limit!);
  // Enumerating a big history takes a while before the first pack byte: the client hears
  // progress (or a keepalive, with no-progress) meanwhile instead of an idle connection.
  const progress = { objects: 0 };
  const waiting = <T>(work: Promise<T>) =>
    limit ? whileWaiting(work, fetchHooks.tickMs, () => (out.progress ? band(BAND_PROGRESS, `Enumerating objects: ${progress.objects}\r`) : KEEPALIVE)) : settle(work);
  try {
    if (fetchHooks.beforeEnumeration) yield* waiting(fetchHooks.beforeEnumeration());
    const unbounded = shallow.grafts.size === 0 && shallow.extraWants.length === 0 && !filter;
    const walk = () =>
      planObjects(repo.objects, args.wants, {
        haves: common,
        grafts: shallow.grafts,
        extraWants: shallow.extraWants,
        extraEdges: shallow.extraEdges,
        filter,
        progress,
      });
    let plan = yield* waiting(
      unbounded
        ? common.length === 0
          ? fullClonePlan(repo, args.wants, progress)
          : bitmapPlan(repo, args.wants, common).then((p) => p ?? walk())
        : walk(),
    );
    // a client without ofs-delta cannot take stored packs as they are (C Git's clients all can)
    if ((plan.wholePacks?.length || plan.reuse) && !args.ofsDelta) plan = yield* waiting(walk());
    const wholePacks = plan.wholePacks ?? [];
    let objects = plan.objects;
    if (args.includeTag) {
      const tags = await tagsToInclude(repo, objects, wholePacks, plan.reuse);
      if (tags.length) objects = objects.concat(tags); // else keep the (cacheable) list itself
    }
    const enumerated = objects.length + wholePacks.reduce((n, p) => n + p.index.count, 0) + (plan.reuse?.count ?? 0);
    if (out.progress && limit) yield band(BAND_PROGRESS, `Enumerating objects: ${enumerated}, done.\n`);
    progress.objects = enumerated;
    const packPlan = yield* waiting(
      planPack(repo.objects, objects, {
        thin: args.thinPack,
        clientHas: plan.clientHas,
        ofsDelta: args.ofsDelta,
        deltaBases: plan.deltaBases,
        located: plan.located,
        wholePacks,
        reuse: plan.reuse,
      }),
    );
    // Sending exactly one stored pack: its bytes, trailer included, need no re-hashing.
    // Chunks may be lent (stored packs' bytes): framing copies them at once.
    const body = packPlan.verbatim ? packPlan.verbatim.fileStream() : writePack(packPlan.count, packPlan.entries, { level: WIRE_LEVEL });
    if (!limit) {
      for await (const chunk of body) {
        transientBytes(chunk.length);
        yield Buffer.from(chunk);
      }
    } else {
      const framer = new BandFramer(BAND_DATA, limit);
      const ready: Buffer[] = [];
      for await (const chunk of body) {
        framer.write(chunk, ready);
        // framed chunks come back to the framer once written (returnable): no garbage to collect
        for (const framed of ready) yield framed;
        ready.length = 0;
      }
      const rest = framer.end();
      if (rest) yield rest;
    }
    if (out.progress && limit) {
      const s = packPlan.stats;
      yield band(BAND_PROGRESS, `Total ${packPlan.count} (delta ${s.deltas}), reused ${s.reused + s.packReused} (delta ${s.reusedDeltas}), pack-reused ${s.packReused}\n`);
    }
    if (limit) yield FLUSH;
  } catch (err) {
    if (!limit) throw err;
    const message = err instanceof GitgateError ? err.message : 'internal error while packing';
    yield band(BAND_ERROR, `${message}\n`);
    yield FLUSH;
  }
}
