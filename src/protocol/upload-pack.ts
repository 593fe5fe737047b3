// upload-pack, protocol v0 over stateless HTTP: ref advertisement, negotiation with
// multi_ack_detailed / no-done, then the pack on side-band with progress.
import { GitgateError } from '../errors.js';
import { writePack } from '../pack/pack-writer.js';
import { parseCommit } from '../repo/objects.js';
import { objectsToSend, reachableCommits, type ObjectToSend } from '../repo/reachability.js';
import type { Repository } from '../repo/repository.js';
import { writeAdvertisement } from './advertisement.js';
import { UPLOAD_PACK_CAPS } from './capabilities.js';
import { FLUSH, PktLineReader, pktText } from './pkt-line.js';
import { planPack } from './pack-stream.js';
import { listAdvertisedRefs } from './ref-listing.js';
import { BAND_DATA, BAND_ERROR, BAND_PROGRESS, bandLimit, sidebandPackets } from './sideband.js';
import { parseUploadRequest, type UploadRequest } from './upload-request.js';
import type { ByteSource } from './byte-reader.js';

export async function uploadPackAdvertisement(repo: Repository): Promise<Buffer> {
  const refs = await listAdvertisedRefs(repo, { includeHead: true, peel: true });
  const caps = [...UPLOAD_PACK_CAPS];
  const head = await repo.headTarget();
  if (head && refs.some((r) => r.name === 'HEAD')) caps.push(`symref=HEAD:${head}`);
  return writeAdvertisement({ service: 'git-upload-pack', refs, capabilities: caps });
}

/** Wants must be objects we have that a ref reaches (allow-reachable-sha1-in-want). */
async function checkWants(repo: Repository, wants: string[]): Promise<void> {
  const refs = await listAdvertisedRefs(repo, { includeHead: true, peel: true });
  const tips = new Set<string>();
  for (const r of refs) {
    tips.add(r.oid);
    if (r.peeled) tips.add(r.peeled);
  }
  let reachable: Set<string> | null = null;
  for (const want of wants) {
    if (tips.has(want)) continue;
    const type = await repo.objects.readType(want);
    if (!type) throw new GitgateError('PROTOCOL', { detail: `upload-pack: not our ref ${want}` });
    if (type.type !== 'commit') continue; // blobs/trees for partial-clone lazy fetches
    reachable ??= await reachableCommits(repo.objects, [...tips]);
    if (!reachable.has(want)) throw new GitgateError('PROTOCOL', { detail: `upload-pack: not our ref ${want}` });
  }
}

interface Negotiation {
  common: string[];
  ready: boolean;
}

/** The client's haves we share, and whether every want already reaches one of them. */
async function negotiate(repo: Repository, req: UploadRequest): Promise<Negotiation> {
  const common: string[] = [];
  for (const have of req.haves) {
    const t = await repo.objects.readType(have);
    if (t?.type === 'commit') common.push(have);
  }
  if (common.length === 0) return { common, ready: false };
  const commonSet = new Set(common);
  // ok_to_give_up: each wanted commit has a common commit among its ancestors.
  for (const want of req.wants) {
    if (!(await reachesAny(repo, want, commonSet))) return { common, ready: false };
  }
  return { common, ready: true };
}

async function reachesAny(repo: Repository, start: string, targets: Set<string>): Promise<boolean> {
  const seen = new Set<string>([start]);
  const stack = [start];
  while (stack.length) {
    const oid = stack.pop()!;
    if (targets.has(oid)) return true;
    const obj = await repo.objects.read(oid);
    if (!obj || obj.type !== 'commit') continue;
    for (const p of parseCommit(obj.content).parents) {
      if (!seen.has(p)) {
        seen.add(p);
        stack.push(p);
      }
    }
  }
  return false;
}

/** Annotated tags whose target is being sent (include-tag). */
async function tagsToInclude(repo: Repository, sending: ObjectToSend[]): Promise<ObjectToSend[]> {
  const sent = new Set(sending.map((o) => o.oid));
  const extra: ObjectToSend[] = [];
  for (const ref of await listAdvertisedRefs(repo, { includeHead: false, peel: true })) {
    if (!ref.peeled || sent.has(ref.oid)) continue;
    if (sent.has(ref.peeled)) {
      extra.push({ oid: ref.oid, type: 'tag' });
      sent.add(ref.oid);
    }
  }
  return extra;
}

export interface UploadPackOptions {
  /** Called once the request is parsed and validated, before any byte is written. */
  onRequest?: (req: UploadRequest) => void;
}

/**
 * Serve one POST /git-upload-pack. Errors thrown before the first chunk become HTTP errors;
 * later ones are reported on side-band 3.
 */
export async function* serveUploadPack(repo: Repository, body: ByteSource, opts: UploadPackOptions = {}): AsyncGenerator<Buffer> {
  const reader = new PktLineReader(body);
  const req = await parseUploadRequest(reader);
  if (req.wants.length === 0) return;
  await checkWants(repo, req.wants);
  opts.onRequest?.(req);

  const multiAck = req.capabilities.has('multi_ack_detailed') ? 2 : req.capabilities.has('multi_ack') ? 1 : 0;
  const noDone = req.capabilities.has('no-done');
  const { common, ready } = await negotiate(repo, req);
  const last = common[common.length - 1];

  if (!req.done) {
    const out: Buffer[] = [];
    for (const oid of common) {
      if (multiAck === 2) out.push(pktText(`ACK ${oid} common`));
      else if (multiAck === 1) out.push(pktText(`ACK ${oid} continue`));
    }
    if (ready && multiAck === 2 && last) out.push(pktText(`ACK ${last} ready`));
    if (common.length === 0 || multiAck) out.push(pktText('NAK'));
    if (!(noDone && ready && last)) {
      yield Buffer.concat(out);
      return;
    }
    out.push(pktText(`ACK ${last}`));
    yield Buffer.concat(out);
  } else {
    yield last ? pktText(`ACK ${last}`) : pktText('NAK');
  }

  yield* sendPack(repo, req, common);
}

async function* sendPack(repo: Repository, req: UploadRequest, common: string[]): AsyncGenerator<Buffer> {
  const caps = req.capabilities;
  const sideband = caps.has('side-band-64k') || caps.has('side-band');
  const limit = bandLimit(caps.has('side-band-64k'));
  const progress = sideband && !caps.has('no-progress');
  const band = (n: number, data: Buffer | string) =>
    Buffer.concat(sidebandPackets(n, typeof data === 'string' ? Buffer.from(data) : data, limit));

  try {
    let objects = await objectsToSend(repo.objects, req.wants, { haves: common });
    if (caps.has('include-tag')) objects = objects.concat(await tagsToInclude(repo, objects));
    if (progress) yield band(BAND_PROGRESS, `Enumerating objects: ${objects.length}, done.\n`);
    const plan = await planPack(repo.objects, objects);
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    for await (const chunk of writePack(plan.count, plan.entries)) {
      if (!sideband) {
        yield chunk;
        continue;
      }
      // Coalesce small entries into full side-band packets.
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes >= limit) {
        yield band(BAND_DATA, Buffer.concat(pending));
        pending = [];
        pendingBytes = 0;
      }
    }
    if (pendingBytes) yield band(BAND_DATA, Buffer.concat(pending));
    if (progress) {
      const s = plan.stats;
      yield band(BAND_PROGRESS, `Total ${plan.count} (delta ${s.deltas}), reused ${s.reused} (delta ${s.reusedDeltas}), pack-reused 0\n`);
    }
    if (sideband) yield FLUSH;
  } catch (err) {
    if (!sideband) throw err;
    const message = err instanceof GitgateError ? err.message : 'internal error while packing';
    yield band(BAND_ERROR, `${message}\n`);
    yield FLUSH;
  }
}
