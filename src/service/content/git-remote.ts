// A minimal smart-HTTP fetch client (protocol v0, stateless RPC): list the remote's refs, ask
// for one branch, and stream the pack straight into gitgate's verifying pack ingestion. No
// multi_ack: wants, our haves, done — the server answers one ACK or NAK and then the pack.
//
// Credentials embedded in the URL are sent as HTTP Basic, only to the origin (scheme, host,
// port) they were given for, as libcurl does: a redirect elsewhere goes without them. They never
// appear in errors or logs: every message names the source by its redacted URL (scheme, host,
// path). Every request, every redirect hop included, goes through the request policy (src/net):
// forbidden destinations are 400 SOURCE_FORBIDDEN before any connection. Other failures say
// no more than "unreachable" or "not a Git repository", so errors cannot map a network.
import type { ClientRequest, IncomingMessage } from 'node:http';
import { GitgateError, isGitgateError } from '../../errors.js';
import { DestinationRefused, type RequestPolicy } from '../../net/request-policy.js';
import { ingestPack } from '../../repo/pack-ingest.js';
import { isValidRefName } from '../../repo/ref-names.js';
import type { Repository } from '../../repo/repository.js';
import { FLUSH, PktLineReader, pktText, pktToText } from '../../protocol/pkt-line.js';
import { BAND_DATA, BAND_ERROR, BAND_PROGRESS } from '../../protocol/sideband.js';
import { OID_SOURCE } from '../../oid.js';

const REF_LINE = new RegExp(`^(${OID_SOURCE}) (.+)$`);

export const DEFAULT_MAX_IMPORT_BYTES = 1024 ** 3;
const IDLE_TIMEOUT_MS = 60_000;
const MAX_REDIRECTS = 5;
const MAX_ADVERTISEMENT_BYTES = 64 * 1024 ** 2;
const MAX_HAVES = 256;
const AGENT = 'git/2.0 (gitgate)';

export interface RemoteSource {
  url: string;
  branch?: string | null;
}

export interface RemoteEndpoint {
  /** The URL without credentials, query or fragment, and without a trailing slash. */
  base: URL;
  /** For messages: scheme://host/path, never credentials. */
  display: string;
  authorization: string | null;
  /** The origin `authorization` belongs to; redirects move `base`, never this. */
  credentialOrigin: string;
}

export interface RemoteRefs {
  refs: Map<string, string>;
  capabilities: Set<string>;
  /** HEAD's branch when the server advertised symref=HEAD:... */
  headTarget: string | null;
}

export interface FetchedBranch {
  /** Full ref name on the remote (refs/heads/...), or null for an empty remote. */
  ref: string | null;
  /** Branch name without refs/heads/. */
  branch: string | null;
  oid: string | null;
  /** Pack bytes received (0 when nothing was needed). */
  bytes: number;
}

export function parseRemoteUrl(raw: string): RemoteEndpoint {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new GitgateError('VALIDATION', { detail: 'source.url is not a valid URL' });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new GitgateError('SOURCE_FORBIDDEN', { url: `${url.protocol}//${url.host}${url.pathname}`.slice(0, 200), reason: 'only http and https URLs are allowed' });
  }
  let authorization: string | null = null;
  if (url.username || url.password) {
    const user = safeDecode(url.username);
    const pass = safeDecode(url.password);
    authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
  }
  const base = new URL(url.toString());
  base.username = '';
  base.password = '';
  base.search = '';
  base.hash = '';
  base.pathname = base.pathname.replace(/\/+$/, '');
  return { base, display: `${base.protocol}//${base.host}${base.pathname}`, authorization, credentialOrigin: base.origin };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export function branchRef(branch: string): string {
  const ref = branch.startsWith('refs/heads/') ? branch : `refs/heads/${branch}`;
  if (!isValidRefName(ref)) throw new GitgateError('BAD_REF_NAME', { ref: branch.slice(0, 200) });
  return ref;
}

// ---------------------------------------------------------------------------------------------
// HTTP

interface Response {
  res: IncomingMessage;
  url: URL;
}

/** Throws SOURCE_FORBIDDEN when the policy refuses `url` (scheme or literal address). */
export function checkDestination(ep: RemoteEndpoint, policy: RequestPolicy, url: URL = ep.base): void {
  try {
    policy.check(url);
  } catch (err) {
    throw failure(ep, err);
  }
}

function request(ep: RemoteEndpoint, policy: RequestPolicy, url: URL, opts: { method: 'GET' | 'POST'; headers: Record<string, string>; body?: Buffer }): Promise<Response> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'User-Agent': AGENT, ...opts.headers };
    // credentials only ever go to the origin they were given for
    if (ep.authorization && url.origin === ep.credentialOrigin) headers.Authorization = ep.authorization;
    if (opts.body) headers['Content-Length'] = String(opts.body.length);
    let req: ClientRequest;
    try {
      req = policy.request(url, { method: opts.method, headers });
    } catch (err) {
      reject(failure(ep, err));
      return;
    }
    req.setTimeout(IDLE_TIMEOUT_MS, () => req.destroy(new Error('timeout')));
    req.on('error', (err) => reject(failure(ep, err)));
    req.on('response', (res) => {
      res.setTimeout(IDLE_TIMEOUT_MS, () => res.destroy(new Error('timeout')));
      resolve({ res, url });
    });
    req.end(opts.body);
  });
}

/** A refused destination is SOURCE_FORBIDDEN; any other network failure (DNS, refused, reset,
 *  timeout, TLS) is the same SOURCE_UNREACHABLE, without the error code that would tell them apart. */
function failure(ep: RemoteEndpoint, err: unknown): GitgateError {
  if (err instanceof DestinationRefused) return new GitgateError('SOURCE_FORBIDDEN', { url: ep.display, reason: err.reason });
  if (isGitgateError(err)) return err;
  return unreachable(ep);
}

function unreachable(ep: RemoteEndpoint): GitgateError {
  return new GitgateError('SOURCE_UNREACHABLE', { url: ep.display });
}

function notGit(ep: RemoteEndpoint): GitgateError {
  return new GitgateError('SOURCE_NOT_GIT', { url: ep.display });
}

/** Non-2xx statuses as errors that neither echo the body nor say which status it was. */
function statusError(ep: RemoteEndpoint, status: number): GitgateError {
  if (status === 401 || status === 403) return new GitgateError('SOURCE_ACCESS_DENIED', { url: ep.display, status });
  if (status >= 500) return unreachable(ep);
  return notGit(ep);
}

/** Response body as chunks, failing once more than `limit` bytes arrive. */
async function* limitedBody(ep: RemoteEndpoint, res: IncomingMessage, limit: number, counter: { bytes: number }, tooLarge: () => GitgateError): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      counter.bytes += chunk.length;
      if (counter.bytes > limit) throw tooLarge();
      yield chunk;
    }
  } catch (err) {
    throw failure(ep, err);
  } finally {
    if (!res.complete) res.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// protocol

/**
 * GET info/refs, following redirects as C Git's default `http.followRedirects=initial` does:
 * only here, and later requests go to the redirected base. Another origin (https to http too,
 * which git and libcurl follow) is followed without the credentials, and every hop passes the
 * request policy like the first.
 */
export async function listRemoteRefs(ep: RemoteEndpoint, policy: RequestPolicy): Promise<RemoteRefs> {
  let url = new URL(`${ep.base.toString()}/info/refs?service=git-upload-pack`);
  for (let hop = 0; ; hop++) {
    const { res } = await request(ep, policy, url, { method: 'GET', headers: { Accept: '*/*', Pragma: 'no-cache' } });
    const status = res.statusCode ?? 0;
    if ([301, 302, 303, 307, 308].includes(status) && res.headers.location) {
      res.resume();
      if (hop >= MAX_REDIRECTS) throw notGit(ep);
      try {
        url = new URL(res.headers.location, url);
      } catch {
        throw notGit(ep);
      }
      checkDestination(ep, policy, url);
      if (!url.pathname.endsWith('/info/refs')) throw notGit(ep);
      url.username = ''; // userinfo in a Location is not ours to send
      url.password = '';
      ep.base = new URL(url.toString());
      ep.base.search = '';
      ep.base.pathname = url.pathname.slice(0, -'/info/refs'.length);
      continue;
    }
    if (status < 200 || status >= 300) {
      res.resume();
      throw statusError(ep, status);
    }
    const type = (res.headers['content-type'] ?? '').split(';')[0]!.trim();
    if (type !== 'application/x-git-upload-pack-advertisement') {
      res.resume();
      throw notGit(ep);
    }
    const counter = { bytes: 0 };
    const body = limitedBody(ep, res, MAX_ADVERTISEMENT_BYTES, counter, () => protocolError(ep, 'ref advertisement too large'));
    try {
      return await parseAdvertisement(ep, new PktLineReader(body));
    } finally {
      // release the connection even when the parser stopped early
      if (!res.complete) res.destroy();
    }
  }
}

function protocolError(ep: RemoteEndpoint, detail: string): GitgateError {
  return new GitgateError('SOURCE_PROTOCOL', { url: ep.display, detail });
}

async function readPkt(ep: RemoteEndpoint, reader: PktLineReader) {
  try {
    return await reader.read();
  } catch (err) {
    if (isGitgateError(err, 'PROTOCOL')) throw protocolError(ep, err.message.replace(/^Protocol error: /, ''));
    throw err;
  }
}

async function parseAdvertisement(ep: RemoteEndpoint, reader: PktLineReader): Promise<RemoteRefs> {
  const first = await readPkt(ep, reader);
  if (!first || first.type !== 'data' || pktToText(first.payload) !== '# service=git-upload-pack') {
    throw protocolError(ep, 'missing "# service=git-upload-pack" header');
  }
  // the header is followed by a flush (some old servers omit it)
  let pkt = await readPkt(ep, reader);
  if (pkt?.type === 'flush') pkt = await readPkt(ep, reader);
  const refs = new Map<string, string>();
  let capabilities = new Set<string>();
  let firstRef = true;
  for (; pkt && pkt.type === 'data'; pkt = await readPkt(ep, reader)) {
    let line = pktToText(pkt.payload);
    if (firstRef) {
      if (line.startsWith('version ')) throw protocolError(ep, 'the server answered with protocol v2 although v0 was requested');
      const nul = line.indexOf('\0');
      if (nul >= 0) {
        capabilities = new Set(line.slice(nul + 1).split(' ').filter(Boolean));
        line = line.slice(0, nul);
      }
      firstRef = false;
    }
    const m = REF_LINE.exec(line);
    if (!m) throw protocolError(ep, 'malformed ref line');
    const [, oid, name] = m as unknown as [string, string, string];
    if (name === 'capabilities^{}' || name.endsWith('^{}')) continue;
    refs.set(name, oid);
  }
  if (pkt && pkt.type !== 'flush') throw protocolError(ep, 'unexpected packet in ref advertisement');
  let headTarget: string | null = null;
  for (const cap of capabilities) {
    if (cap.startsWith('symref=HEAD:')) headTarget = cap.slice('symref=HEAD:'.length);
  }
  return { refs, capabilities, headTarget };
}

/** Which remote ref a source names: its branch, else HEAD's branch, else the branch HEAD's commit is on. */
export function chooseRemoteRef(ep: RemoteEndpoint, remote: RemoteRefs, branch: string | null | undefined): { ref: string | null; oid: string | null } {
  if (branch) {
    const ref = branchRef(branch);
    const oid = remote.refs.get(ref);
    if (!oid) throw new GitgateError('SOURCE_BRANCH_NOT_FOUND', { branch: branch.slice(0, 200), url: ep.display });
    return { ref, oid };
  }
  if (remote.headTarget && remote.refs.has(remote.headTarget)) return { ref: remote.headTarget, oid: remote.refs.get(remote.headTarget)! };
  const head = remote.refs.get('HEAD');
  if (head) {
    const named = [...remote.refs].find(([name, oid]) => name.startsWith('refs/heads/') && oid === head);
    return { ref: named ? named[0] : null, oid: head };
  }
  const anyBranch = [...remote.refs].find(([name]) => name.startsWith('refs/heads/'));
  if (anyBranch) return { ref: anyBranch[0], oid: anyBranch[1] };
  return { ref: null, oid: null };
}

/**
 * Fetch one branch of `source` into `repo` (objects only; no ref changes). The pack is verified
 * (checksums, object syntax, connectivity) as a push is; nothing is left behind on failure.
 */
export async function fetchBranch(repo: Repository, source: RemoteSource, opts: { policy: RequestPolicy; maxBytes?: number; haves?: string[] }): Promise<FetchedBranch> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_IMPORT_BYTES;
  const ep = parseRemoteUrl(source.url);
  const remote = await listRemoteRefs(ep, opts.policy);
  const { ref, oid } = chooseRemoteRef(ep, remote, source.branch);
  const branch = ref?.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : null;
  if (!oid) return { ref, branch, oid: null, bytes: 0 };
  if (await repo.objects.has(oid)) return { ref, branch, oid, bytes: 0 };

  const caps = remote.capabilities;
  const want = [`want ${oid}`];
  if (caps.has('side-band-64k')) want.push('side-band-64k');
  else if (caps.has('side-band')) want.push('side-band');
  if (caps.has('ofs-delta')) want.push('ofs-delta');
  if (caps.has('no-progress')) want.push('no-progress');
  want.push('agent=gitgate');
  const sideband = caps.has('side-band-64k') || caps.has('side-band');
  const parts = [pktText(want.join(' ')), FLUSH];
  const haves = [...new Set(opts.haves ?? [])].slice(0, MAX_HAVES);
  for (const have of haves) parts.push(pktText(`have ${have}`));
  parts.push(pktText('done'));

  const url = new URL(`${ep.base.toString()}/git-upload-pack`);
  const { res } = await request(ep, opts.policy, url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-git-upload-pack-request', Accept: 'application/x-git-upload-pack-result' },
    body: Buffer.concat(parts),
  });
  const status = res.statusCode ?? 0;
  if (status < 200 || status >= 300) {
    res.resume();
    throw statusError(ep, status);
  }
  const type = (res.headers['content-type'] ?? '').split(';')[0]!.trim();
  if (type !== 'application/x-git-upload-pack-result') {
    res.resume();
    throw protocolError(ep, `unexpected content type ${type || '(none)'}`);
  }
  // the HTTP framing may add a little to the pack; the pack itself is held to maxBytes by ingestPack
  const counter = { bytes: 0 };
  const tooLarge = () => new GitgateError('SOURCE_TOO_LARGE', { limit: maxBytes });
  const body = limitedBody(ep, res, maxBytes + 1024 * 1024, counter, tooLarge);
  const reader = new PktLineReader(body);
  try {
    const pack = packStream(ep, reader, sideband);
    await ingestPack(repo, pack, { maxBytes });
  } catch (err) {
    if (isGitgateError(err, 'PACK_TOO_LARGE')) throw tooLarge();
    if (isGitgateError(err, 'PROTOCOL')) throw protocolError(ep, err.message.replace(/^Protocol error: /, ''));
    throw err;
  } finally {
    res.destroy();
  }
  const info = await repo.objects.readType(oid);
  if (!info) throw protocolError(ep, `the pack did not contain ${oid}`);
  return { ref, branch, oid, bytes: counter.bytes };
}

/** After the ACK/NAK lines: pack bytes, demultiplexed from side-band when negotiated. */
async function* packStream(ep: RemoteEndpoint, reader: PktLineReader, sideband: boolean): AsyncGenerator<Buffer> {
  // negotiation lines: ACK <oid> or NAK (one, without multi_ack; tolerate more)
  for (;;) {
    if (!sideband) {
      const head = await reader.bytes.read(4);
      if (head === null) throw protocolError(ep, 'the response ended before the pack');
      if (head.toString('latin1') === 'PACK') {
        yield head;
        yield* reader.bytes.rest();
        return;
      }
      const len = parseInt(head.toString('latin1'), 16);
      if (!/^[0-9a-f]{4}$/i.test(head.toString('latin1')) || len < 4) throw protocolError(ep, 'malformed negotiation response');
      const payload = await reader.bytes.read(len - 4);
      if (payload === null) throw protocolError(ep, 'truncated negotiation response');
      checkNegotiationLine(ep, pktToText(payload));
      continue;
    }
    const pkt = await readPkt(ep, reader);
    if (!pkt) throw protocolError(ep, 'the response ended before the pack');
    if (pkt.type !== 'data') continue;
    const first = pkt.payload[0];
    if (first === BAND_DATA || first === BAND_PROGRESS || first === BAND_ERROR) {
      yield* sidebandData(ep, reader, pkt.payload);
      return;
    }
    checkNegotiationLine(ep, pktToText(pkt.payload));
  }
}

function checkNegotiationLine(ep: RemoteEndpoint, line: string): void {
  if (line.startsWith('ACK ') || line === 'NAK' || line.startsWith('shallow ') || line.startsWith('unshallow ')) return;
  if (line.startsWith('ERR ')) throw protocolError(ep, `the server said: ${sanitize(line.slice(4))}`);
  throw protocolError(ep, 'unexpected line in negotiation response');
}

async function* sidebandData(ep: RemoteEndpoint, reader: PktLineReader, firstPayload: Buffer): AsyncGenerator<Buffer> {
  let payload: Buffer | null = firstPayload;
  for (;;) {
    if (payload) {
      const band = payload[0];
      const data = payload.subarray(1);
      if (band === BAND_DATA) yield data;
      else if (band === BAND_ERROR) throw protocolError(ep, `the server said: ${sanitize(data.toString('utf8'))}`);
      else if (band !== BAND_PROGRESS) throw protocolError(ep, `unknown side-band ${band}`);
    }
    const pkt = await readPkt(ep, reader);
    if (!pkt || pkt.type === 'flush') return;
    payload = pkt.type === 'data' ? pkt.payload : null;
  }
}

/** Remote text in our errors: one line, printable, short. */
function sanitize(text: string): string {
  return text.replace(/[^\x20-\x7e]+/g, ' ').trim().slice(0, 200);
}
