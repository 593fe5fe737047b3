// receive-pack, protocol v0 over stateless HTTP: ref advertisement, command list, pack
// ingestion, validation, compare-and-swap ref updates, report-status on side-band.
//
// Order of work, as C Git's receive-pack with receive.fsckObjects:
//  1. read the client's shallow lines, the commands (and push options);
//  2. stream the pack into a temporary file, index it, check every object (hashes, syntax,
//     links) and install it; nothing here holds the repository lock, so a slow upload never
//     blocks anyone;
//  3. under the repository lock (the one the REST API's read-modify-write takes): validate each
//     command (no shallow update, ref name, objects present, current branch not deleted), then one ref transaction
//     with compare-and-swap on every old value (atomic pushes: all or nothing), then HEAD for a
//     first push;
//  4. report per ref (`ok <ref>` / `ng <ref> <reason>`), with C Git's wording where it has one,
//     plus `error: …` lines on side-band 2 that git prints as `remote: error: …`.
// Refusals of the whole push (too many ref updates, a bad or oversized pack) are reported the
// same way, after the rest of the request is read, so git shows them instead of a broken pipe.
import { isGitgateError } from '../errors.js';
import type { FsckPolicy } from '../repo/fsck/index.js';
import { ingestPack, type IngestedPack } from '../repo/pack-ingest.js';
import { isPushableRefName, refNameTooLong } from '../repo/ref-names.js';
import { isZeroOid, oidOrNull } from '../oid.js';
import { ReceiveCommand, runPreReceiveHooks, updateResult, type PreReceiveHook } from '../repo/receive-command.js';
import { oneLine, refResultText, type RefRejection } from '../repo/ref-result.js';
import type { RefUpdate } from '../repo/ref-database.js';
import type { Repository } from '../repo/repository.js';
import { tipsNeedingShallowUpdate } from '../repo/shallow-push.js';
import { writeAdvertisement } from './advertisement.js';
import { RECEIVE_PACK_CAPS } from './capabilities.js';
import type { ByteSource } from './byte-reader.js';
import { FLUSH, PktLineReader } from './pkt-line.js';
import { parseReceiveCommands, type ParsedReceiveRequest, type ReceiveRequest, type RefCommand } from './receive-commands.js';
import { writeReportStatus, type RefStatus } from './report-status.js';
import { listRefs } from './ref-listing.js';
import { BAND_DATA, BAND_PROGRESS, KEEPALIVE, bandLimit, sidebandPackets, whileWaiting } from './sideband.js';

export async function receivePackAdvertisement(repo: Repository): Promise<Buffer> {
  const refs = await listRefs(repo, { peel: false });
  return writeAdvertisement({ service: 'git-receive-pack', refs, capabilities: RECEIVE_PACK_CAPS });
}

/** Default cap on commands per push (`GITGATE_MAX_PUSH_REFS`). */
export const DEFAULT_MAX_REF_UPDATES = 100_000;

export interface ReceivePackOptions {
  /** Largest pack accepted, in bytes. */
  maxPackBytes?: number;
  /** Most objects a pack may hold. */
  maxObjects?: number;
  /** Most ref updates (commands) in one push. */
  maxRefUpdates?: number;
  /** Object check severities and skip list (C Git's receive.fsck.*). */
  fsck?: FsckPolicy;
  /** Ref rules (ref scopes, force/delete rights, protected refs), run under the repository lock
   *  after the built-in checks, with the push's objects readable, on the commands still OK. */
  hooks?: readonly PreReceiveHook[];
  /** Called after refs moved, with what moved (audit, caches). */
  onUpdated?: (moved: RefCommand[], req: ReceiveRequest) => void | Promise<void>;
  /**
   * With side-band, while the pack is checked and refs are updated after the request body has
   * ended, an empty band-1 packet goes out this often (C Git's receive.keepAlive, default 5 s),
   * so idle timeouts between client and server do not cut a long verification short.
   */
  keepaliveMs?: number;
}

export interface ReceiveOutcome {
  req: ReceiveRequest;
  statuses: RefStatus[];
  unpack: string;
  /** Lines for side-band 2 ("warning: …", "error: …"), shown by git as "remote: error: …". */
  messages: string[];
}

type ParsedRequest = ParsedReceiveRequest;

const isZero = isZeroOid;

/** Serve one POST /git-receive-pack; yields the response body. */
export async function* serveReceivePack(repo: Repository, body: ByteSource, opts: ReceivePackOptions = {}): AsyncGenerator<Buffer> {
  // pinned for the whole request: the ingest reads thin-pack bases from packs a repack may retire
  yield* repo.trackStream(receive(repo, body, opts));
}

async function* receive(repo: Repository, body: ByteSource, opts: ReceivePackOptions): AsyncGenerator<Buffer> {
  const reader = new PktLineReader(body);
  // commands past the limit are counted, so the whole push is refused with a report
  const req = await parseReceiveCommands(reader, { maxCommands: opts.maxRefUpdates ?? DEFAULT_MAX_REF_UPDATES, overLimit: 'count' });
  if (req.commands.length === 0) return;
  const received = { done: false };
  // One push asks for one maintenance run, however many packs and ref updates it makes, and
  // only once its report is out: the run's worker (a second process reading the new objects)
  // would otherwise add its memory to the push's peak while the client reads the report.
  const release = repo.maintenance.hold();
  try {
    const work = applyPush(repo, req, reader, opts, received);
    if (req.capabilities.has('side-band-64k') || req.capabilities.has('side-band')) {
      yield* whileWaiting(work, opts.keepaliveMs ?? 5000, () => (received.done ? KEEPALIVE : null));
    }
    yield* report(req, await work);
  } finally {
    release();
  }
}

/** The rest of the request, noting when it has all arrived. */
async function* watched(source: AsyncIterable<Buffer>, received: { done: boolean }): AsyncGenerator<Buffer> {
  yield* source;
  received.done = true;
}

async function applyPush(
  repo: Repository,
  req: ParsedRequest,
  reader: PktLineReader,
  opts: ReceivePackOptions,
  received: { done: boolean },
): Promise<ReceiveOutcome> {
  const { commands } = req;
  const refuseAll = (unpack: string, reason: string): ReceiveOutcome => ({
    req,
    unpack,
    messages: [],
    statuses: commands.map((c) => ({ ref: c.ref, ok: false, reason })),
  });

  const format = req.capabilities.get('object-format');
  if (format !== undefined && format !== 'sha1') {
    await drain(reader, opts.maxPackBytes).catch(() => undefined);
    return refuseAll(`unsupported object-format=${format.slice(0, 20)}: this server stores sha1 repositories`, 'unsupported object format');
  }

  if (req.pushCert) {
    await drain(reader, opts.maxPackBytes).catch(() => undefined);
    return refuseAll('push certificates are not accepted: this server does not advertise push-cert', 'push certificate not supported');
  }

  if (req.dropped > 0) {
    const total = commands.length + req.dropped;
    await drain(reader, opts.maxPackBytes).catch(() => undefined);
    return refuseAll(`too many ref updates in one push (${total}, the limit is ${commands.length})`, 'too many ref updates');
  }

  // C Git's prepare_shallow_info: the client's shallow commits we already have are "ours"
  const ours: string[] = [];
  for (const oid of new Set(req.shallows)) if (await repo.objects.has(oid)) ours.push(oid);
  // fsck reports, printed by git as `remote: warning: object <id>: <msgId>: <text>`
  const warnings = new ReportLines(MAX_FSCK_LINES);
  // from the ingest (thin-pack bases, links to stored objects) until the refs move: no prune in between
  const { pack, outcome } = await repo.objectUse.shared(async () => {
    let pack: IngestedPack | null = null;
    if (commands.some((c) => !isZero(c.newOid))) {
      try {
        pack = await ingestPack(repo, watched(reader.bytes.rest(), received), {
          maxBytes: opts.maxPackBytes,
          maxObjects: opts.maxObjects,
          shallow: new Set(req.shallows),
          fsck: opts.fsck,
          onReport: (line) => warnings.add(line),
        });
      } catch (err) {
        const reason = unpackFailure(err);
        if (reason === null) throw err;
        // read what the client still sends, so it gets to read our report
        await drain(reader, opts.maxPackBytes).catch(() => undefined);
        return { pack, outcome: { ...refuseAll(reason, 'unpacker error'), messages: [] as string[] } };
      }
    }
    received.done = true;
    return { pack, outcome: await repo.withLock(() => updateRefs(repo, req, pack, ours, opts)) };
  });
  if (pack?.name) repo.maintenance.schedule(); // a new pack even if no ref moved
  return { ...outcome, messages: [...warnings.lines(), ...outcome.messages] };
}

/** fsck report lines kept for the client; a push of millions of odd objects must not fill memory. */
const MAX_FSCK_LINES = 1000;

class ReportLines {
  private readonly kept: string[] = [];
  private dropped = 0;

  constructor(private readonly max: number) {}

  add(line: string): void {
    if (this.kept.length < this.max || line.startsWith('error: ')) this.kept.push(line);
    else this.dropped++;
  }

  lines(): string[] {
    return this.dropped ? [...this.kept, `warning: ${this.dropped} more fsck warnings not shown`] : this.kept;
  }
}

/** The unpack status for an ingestion failure the client caused (or a full disk), else null. */
function unpackFailure(err: unknown): string | null {
  if (isGitgateError(err)) {
    if (err.code === 'BAD_PACK' || err.code === 'PACK_TOO_LARGE' || err.code === 'PROTOCOL' || err.code === 'BAD_ENCODING') {
      return oneLine(err.message);
    }
    return null;
  }
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return `cannot store the pack: the server is out of disk space (${code})`;
  if (code === 'Z_DATA_ERROR' || code === 'Z_BUF_ERROR') return 'request body is not valid gzip data';
  if (code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE') return 'request body ended early';
  return null;
}

/** Read and discard the rest of the request (bounded), ignoring errors in it. */
async function drain(reader: PktLineReader, limit = 2 * 1024 ** 3): Promise<void> {
  let n = 0;
  for await (const chunk of reader.bytes.rest()) {
    n += chunk.length;
    if (n > limit) break;
  }
}

/** Step 3: validation, the ref transaction and HEAD, under the repository lock. */
async function updateRefs(
  repo: Repository,
  req: ParsedRequest,
  pack: IngestedPack | null,
  ours: string[],
  opts: ReceivePackOptions,
): Promise<ReceiveOutcome> {
  const { commands } = req;
  const messages: string[] = [];
  const headTarget = await repo.headTarget();
  const headWasUnborn = (await repo.refs.resolve('HEAD')) === null;

  const cmds = commands.map((c) => new ReceiveCommand(c.ref, c.oldOid, c.newOid));
  const shallow = await shallowRefusals(repo, req, pack, ours);
  for (const [i, cmd] of cmds.entries()) {
    const refused = shallow.has(commands[i]!) ? SHALLOW_REFUSAL : await builtinRefusal(repo, cmd, pack, headTarget);
    if (refused) cmd.reject(refused);
  }
  await runPreReceiveHooks(opts.hooks ?? [], repo, cmds);
  const atomic = req.capabilities.has('atomic');
  if (atomic && cmds.some((c) => !c.ok)) {
    for (const c of cmds) c.reject({ kind: 'REJECTED_ATOMIC' });
    return { req, unpack: 'ok', messages, statuses: cmds.map(statusOf) };
  }

  const toApply = cmds.filter((c) => c.ok);
  const updates: RefUpdate[] = toApply.map((c) => ({ name: c.ref, oldOid: oidOrNull(c.oldOid), newOid: oidOrNull(c.newOid) }));
  const results = updates.length ? await repo.refs.update(updates, { atomic }) : [];
  for (const [i, c] of toApply.entries()) {
    const r = results[i];
    if (r && !r.ok && r.code !== 'atomic') messages.push(`error: ${oneLine(r.reason)}`);
    const result = await updateResult(repo, updates[i]!, r);
    if (result.kind !== 'OK') c.reject(result);
  }
  const statuses = cmds.map(statusOf);
  const moved = toApply.filter((c) => c.ok);
  if (headWasUnborn && moved.length) await pointUnbornHead(repo, headTarget, moved);
  if (moved.length) await opts.onUpdated?.(moved, req);
  return { req, unpack: 'ok', messages, statuses };
}

const SHALLOW_REFUSAL: RefRejection = { kind: 'REJECTED_SHALLOW' };

const statusOf = (c: ReceiveCommand): RefStatus => (c.result.kind === 'OK' ? { ref: c.ref, ok: true } : { ref: c.ref, ok: false, reason: refResultText(c.result) });

/** Commands that would make our history shallow (C Git's update_shallow_info, receive.shallowUpdate=false). */
async function shallowRefusals(repo: Repository, req: ParsedRequest, pack: IngestedPack | null, ours: string[]): Promise<Set<RefCommand>> {
  const refused = new Set<RefCommand>();
  const updates = req.commands.filter((c) => !isZero(c.newOid));
  if (req.shallows.length === 0 || updates.length === 0) return refused; // delete-only pushes skip it, as in C Git
  const oursSet = new Set(ours);
  const theirs = req.shallows.filter((oid) => !oursSet.has(oid) && pack?.contains(oid));
  if (pack?.grafted.length) {
    // the pack ends at boundary commits whose parents nobody here has, so it was not stored:
    // whatever needed it would make the repository shallow
    for (const c of updates) if (!(await repo.objects.has(c.newOid))) refused.add(c);
  }
  if (ours.length === 0 && theirs.length === 0) return refused;
  const refTips = (await repo.refs.list('refs/')).map((r) => r.oid);
  const head = await repo.refs.resolve('HEAD');
  if (head) refTips.push(head);
  const tips = await tipsNeedingShallowUpdate(repo.objects, { ours, theirs, refTips }, updates.filter((c) => !refused.has(c)).map((c) => c.newOid));
  for (const c of updates) if (tips.has(c.newOid)) refused.add(c);
  return refused;
}

/** The built-in checks of one command (C Git's receive-pack), before any hook. */
async function builtinRefusal(repo: Repository, cmd: ReceiveCommand, pack: IngestedPack | null, headTarget: string | null): Promise<RefRejection | null> {
  if (!isPushableRefName(cmd.ref)) return { kind: 'REJECTED_BAD_NAME', reason: 'funny refname' };
  const tooLong = refNameTooLong(cmd.ref);
  if (tooLong) return { kind: 'REJECTED_BAD_NAME', reason: tooLong };
  if (isZero(cmd.newOid)) {
    if (cmd.ref === headTarget) return { kind: 'REJECTED_CURRENT_BRANCH' };
  } else {
    // Connectivity: the new pack's objects were checked to reference only objects in the pack or
    // the repository, and every stored object passed the same check when it was stored, so the
    // tip being present means everything reachable from it is.
    const present = pack?.contains(cmd.newOid) || (await repo.objects.has(cmd.newOid));
    if (!present) return { kind: 'REJECTED_MISSING_OBJECT' };
    if (cmd.ref.startsWith('refs/heads/')) {
      const t = await repo.objects.readType(cmd.newOid);
      if (t?.type !== 'commit') return { kind: 'REJECTED_NOT_COMMIT', oid: cmd.newOid, type: t?.type ?? null };
    }
  }
  return null;
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
  if (sideband) {
    const lines = [...outcome.messages];
    // without report-status this is the only place the client can learn why
    if (!wantsReport && outcome.unpack !== 'ok') lines.unshift(`error: unpack failed: ${outcome.unpack}`);
    if (lines.length) yield Buffer.concat(sidebandPackets(BAND_PROGRESS, Buffer.from(lines.map((l) => `${l}\n`).join('')), limit));
  }
  if (wantsReport) {
    const status = writeReportStatus({ unpack: outcome.unpack, refs: outcome.statuses });
    yield sideband ? Buffer.concat(sidebandPackets(BAND_DATA, status, limit)) : status;
  }
  if (sideband) yield FLUSH;
}

