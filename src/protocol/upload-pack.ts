// upload-pack, protocol v0 over stateless HTTP: ref advertisement, shallow list,
// negotiation with multi_ack_detailed / no-done, then the pack on side-band with progress.
import type { Repository } from '../repo/repository.js';
import { writeAdvertisement } from './advertisement.js';
import type { ByteSource } from './byte-reader.js';
import { UPLOAD_PACK_CAPS } from './capabilities.js';
import { GitgateError } from '../errors.js';
import { checkWants, fetchPackStream, negotiate, parseFilterArg, planShallow, type FetchArgs, type WantPolicy } from './fetch-core.js';
import { FLUSH, PktLineReader, pktText } from './pkt-line.js';
import { listRefs } from './ref-listing.js';
import { bandLimit } from './sideband.js';
import { parseUploadRequest, type UploadRequest } from './upload-request.js';
import { refusalsAsErr } from './err-packet.js';

export async function uploadPackAdvertisement(repo: Repository): Promise<Buffer> {
  const refs = await listRefs(repo, { peel: true });
  const headOid = await repo.refs.resolve('HEAD');
  const caps = [...UPLOAD_PACK_CAPS];
  const target = await repo.headTarget();
  if (target && headOid) caps.push(`symref=HEAD:${target}`);
  return writeAdvertisement({ service: 'git-upload-pack', head: headOid ? { name: 'HEAD', oid: headOid } : null, refs, capabilities: caps });
}

function fetchArgs(req: UploadRequest): FetchArgs {
  const caps = req.capabilities;
  return {
    wants: req.wants,
    haves: req.haves,
    shallows: req.shallows,
    depth: req.depth,
    deepenSince: req.deepenSince,
    deepenNot: req.deepenNot,
    deepenRelative: req.deepenRelative || caps.has('deepen-relative'),
    filter: req.filter,
    thinPack: caps.has('thin-pack'),
    ofsDelta: caps.has('ofs-delta'),
    noProgress: caps.has('no-progress'),
    includeTag: caps.has('include-tag'),
  };
}

/**
 * Serve one POST /git-upload-pack. Errors thrown before the first chunk become HTTP errors;
 * later ones are reported on side-band 3.
 */
export async function* serveUploadPack(repo: Repository, body: ByteSource, policy: WantPolicy = {}): AsyncGenerator<Buffer> {
  const req = await parseUploadRequest(new PktLineReader(body));
  if (req.wants.length === 0) return;
  yield* refusalsAsErr(respond(repo, req, policy));
}

async function* respond(repo: Repository, req: UploadRequest, policy: WantPolicy): AsyncGenerator<Buffer> {
  const format = req.capabilities.get('object-format');
  if (format !== undefined && format !== 'sha1') throw new GitgateError('PROTOCOL', { detail: `unsupported object-format=${format.slice(0, 20)}` });
  const args = fetchArgs(req);
  await checkWants(repo, args.wants, policy);
  const filter = parseFilterArg(args.filter);
  const shallow = await planShallow(repo, args);
  if (shallow.sendList) {
    const lines = [...shallow.shallow.map((o) => pktText(`shallow ${o}`)), ...shallow.unshallow.map((o) => pktText(`unshallow ${o}`)), FLUSH];
    yield Buffer.concat(lines);
  }
  // A stateless client may end its first request after the wants to read the shallow list.
  if (!req.negotiating) return;

  const caps = req.capabilities;
  const multiAck = multiAckMode(caps);
  const noDone = caps.has('no-done');
  const { common, ready } = await negotiate(repo, args.wants, args.haves, shallow.grafts);
  const last = common[common.length - 1];

  if (!req.done) {
    const out: Buffer[] = [];
    for (const oid of common) {
      if (multiAck === MultiAck.DETAILED) out.push(pktText(`ACK ${oid} common`));
      else if (multiAck === MultiAck.CONTINUE) out.push(pktText(`ACK ${oid} continue`));
    }
    if (ready && multiAck === MultiAck.DETAILED && last) out.push(pktText(`ACK ${last} ready`));
    if (common.length === 0 || multiAck !== MultiAck.OFF) out.push(pktText('NAK'));
    if (!(noDone && ready && last)) {
      yield Buffer.concat(out);
      return;
    }
    out.push(pktText(`ACK ${last}`));
    yield Buffer.concat(out);
  } else {
    yield last ? pktText(`ACK ${last}`) : pktText('NAK');
  }

  const sideband = caps.has('side-band-64k') || caps.has('side-band');
  yield* fetchPackStream(repo, args, common, shallow, filter, {
    sidebandLimit: sideband ? bandLimit(caps.has('side-band-64k')) : null,
    progress: !args.noProgress,
  });
}

/** v0 negotiation modes (C Git's upload-pack.c): how each common commit is acknowledged. */
export enum MultiAck {
  /** Plain: one `ACK <id>` for the first common commit, else NAK. */
  OFF = 'off',
  /** multi_ack: `ACK <id> continue` per common commit, then NAK. */
  CONTINUE = 'continue',
  /** multi_ack_detailed: `ACK <id> common`, `ACK <id> ready` once enough is known, then NAK. */
  DETAILED = 'detailed',
}

function multiAckMode(caps: ReadonlyMap<string, string>): MultiAck {
  if (caps.has('multi_ack_detailed')) return MultiAck.DETAILED;
  return caps.has('multi_ack') ? MultiAck.CONTINUE : MultiAck.OFF;
}
