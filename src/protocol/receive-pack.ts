// receive-pack, protocol v0 over stateless HTTP: ref advertisement, command list, pack
// ingestion, validation, compare-and-swap ref updates, report-status on side-band.
import { isGitgateError } from '../errors.js';
import { ingestPack, type IngestedPack } from '../repo/pack-ingest.js';
import { isPushableRefName } from '../repo/ref-names.js';
import { ZERO_OID, type RefUpdate } from '../repo/refs.js';
import type { Repository } from '../repo/repository.js';
import { writeAdvertisement } from './advertisement.js';
import { RECEIVE_PACK_CAPS } from './capabilities.js';
import type { ByteSource } from './byte-reader.js';
import { FLUSH, PktLineReader } from './pkt-line.js';
import { parseReceiveCommands, type ReceiveRequest, type RefCommand } from './receive-commands.js';
import { writeReportStatus, type RefStatus } from './report-status.js';
import { listAdvertisedRefs } from './ref-listing.js';
import { BAND_DATA, BAND_PROGRESS, bandLimit, sidebandPackets } from './sideband.js';

export async function receivePackAdvertisement(repo: Repository): Promise<Buffer> {
  const refs = await listAdvertisedRefs(repo, { includeHead: false, peel: false });
  return writeAdvertisement({ service: 'git-receive-pack', refs, capabilities: RECEIVE_PACK_CAPS });
}

export interface ReceivePackOptions {
  maxPackBytes?: number;
  maxObjects?: number;
  /** Extra per-command check (permissions, ref scopes); returns a refusal reason or null. */
  checkCommand?: (cmd: RefCommand) => string | null;
  /** Called after refs moved, with what moved (audit, caches). */
  onUpdated?: (moved: RefCommand[], req: ReceiveRequest) => void;
}

export interface ReceiveOutcome {
  req: ReceiveRequest;
  statuses: RefStatus[];
  unpack: string;
}

const isZero = (oid: string) => oid === ZERO_OID;

/** Serve one POST /git-receive-pack; yields the response body. */
export async function* serveReceivePack(repo: Repository, body: ByteSource, opts: ReceivePackOptions = {}): AsyncGenerator<Buffer> {
  const reader = new PktLineReader(body);
  const req = await parseReceiveCommands(reader);
  if (req.commands.length === 0) return;
  const outcome = await applyPush(repo, req, reader, opts);
  yield* report(req, outcome);
}

async function applyPush(repo: Repository, req: ReceiveRequest, reader: PktLineReader, opts: ReceivePackOptions): Promise<ReceiveOutcome> {
  const { commands } = req;
  const needsPack = commands.some((c) => !isZero(c.newOid));
  let pack: IngestedPack | null = null;
  let unpack = 'ok';
  if (needsPack) {
    try {
      pack = await ingestPack(repo, reader.bytes.rest(), { maxBytes: opts.maxPackBytes, maxObjects: opts.maxObjects });
    } catch (err) {
      if (!isGitgateError(err) || (err.code !== 'BAD_PACK' && err.code !== 'PACK_TOO_LARGE' && err.code !== 'PROTOCOL')) throw err;
      unpack = err.message;
    }
  }
  if (unpack !== 'ok') {
    return { req, unpack, statuses: commands.map((c) => ({ ref: c.ref, ok: false, reason: 'unpacker error' })) };
  }

  const headWasUnborn = (await repo.refs.resolve('HEAD')) === null;
  const headTarget = await repo.headTarget();
  const refusals = new Map<string, string>();
  for (const cmd of commands) {
    const reason = await refuse(repo, cmd, pack, headTarget, opts);
    if (reason) refusals.set(cmd.ref, reason);
  }
  const atomic = req.capabilities.has('atomic');
  if (atomic && refusals.size > 0) {
    return {
      req,
      unpack,
      statuses: commands.map((c) => ({ ref: c.ref, ok: false, reason: refusals.get(c.ref) ?? 'atomic push failure' })),
    };
  }
  const toApply = commands.filter((c) => !refusals.has(c.ref));
  const updates: RefUpdate[] = toApply.map((c) => ({
    name: c.ref,
    oldOid: isZero(c.oldOid) ? null : c.oldOid,
    newOid: isZero(c.newOid) ? null : c.newOid,
  }));
  const results = updates.length ? await repo.refs.update(updates, { atomic }) : [];
  const byRef = new Map(results.map((r) => [r.name, r]));
  const statuses: RefStatus[] = commands.map((c) => {
    const refused = refusals.get(c.ref);
    if (refused) return { ref: c.ref, ok: false, reason: refused };
    const r = byRef.get(c.ref);
    if (!r) return { ref: c.ref, ok: false, reason: 'not updated' };
    return r.ok ? { ref: c.ref, ok: true } : { ref: c.ref, ok: false, reason: r.reason };
  });
  const moved = toApply.filter((c) => byRef.get(c.ref)?.ok);
  if (headWasUnborn && moved.length) await pointUnbornHead(repo, headTarget, moved);
  if (moved.length) opts.onUpdated?.(moved, req);
  return { req, unpack, statuses };
}

/** Why a command may not run (C Git's wording where it has one), or null. */
async function refuse(
  repo: Repository,
  cmd: RefCommand,
  pack: IngestedPack | null,
  headTarget: string | null,
  opts: ReceivePackOptions,
): Promise<string | null> {
  if (!isPushableRefName(cmd.ref)) return 'funny refname';
  if (isZero(cmd.newOid)) {
    if (cmd.ref === headTarget) return 'deletion of the current branch prohibited';
  } else {
    const present = pack?.contains(cmd.newOid) || (await repo.objects.has(cmd.newOid));
    if (!present) return 'missing necessary objects';
    if (cmd.ref.startsWith('refs/heads/')) {
      const t = await repo.objects.readType(cmd.newOid);
      if (t?.type !== 'commit') return 'not a commit: branches must point at commits';
    }
  }
  return opts.checkCommand?.(cmd) ?? null;
}

/** First push into an empty repository: HEAD keeps the default branch if it was pushed, else takes the first branch pushed. */
async function pointUnbornHead(repo: Repository, headTarget: string | null, moved: RefCommand[]): Promise<void> {
  const created = moved.filter((c) => c.ref.startsWith('refs/heads/') && !isZero(c.newOid));
  if (created.length === 0) return;
  if (headTarget && created.some((c) => c.ref === headTarget)) return;
  await repo.refs.setSymbolic('HEAD', created[0]!.ref);
}

function* report(req: ReceiveRequest, outcome: ReceiveOutcome): Generator<Buffer> {
  const caps = req.capabilities;
  const wantsReport = caps.has('report-status') || caps.has('report-status-v2');
  const sideband = caps.has('side-band-64k') || caps.has('side-band');
  const limit = bandLimit(caps.has('side-band-64k'));
  if (sideband && !caps.has('quiet') && outcome.unpack !== 'ok') {
    yield Buffer.concat(sidebandPackets(BAND_PROGRESS, Buffer.from(`error: ${outcome.unpack}\n`), limit));
  }
  if (wantsReport) {
    const status = writeReportStatus({ unpack: outcome.unpack, refs: outcome.statuses });
    yield sideband ? Buffer.concat(sidebandPackets(BAND_DATA, status, limit)) : status;
  }
  if (sideband) yield FLUSH;
}
