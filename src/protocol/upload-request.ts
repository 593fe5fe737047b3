// v0 upload-pack request codec (stateless RPC): want lines (capabilities on the first),
// shallow/deepen/filter lines, flush, then have lines ending in flush or "done".
import { GitgateError } from '../errors.js';
import { FLUSH, PktLineReader, pktText, pktToText } from './pkt-line.js';
import { parseCapabilities } from './capabilities.js';
import { Yielder } from '../event-loop.js';
import { OID_PATTERN } from '../oid.js';

export interface UploadRequest {
  wants: string[];
  capabilities: Map<string, string>;
  shallows: string[];
  depth: number | null;
  deepenSince: number | null;
  deepenNot: string[];
  deepenRelative: boolean;
  filter: string | null;
  haves: string[];
  done: boolean;
  /** Whether anything followed the want section (a stateless client may stop there to read the shallow list). */
  negotiating: boolean;
}

const OID = OID_PATTERN;

function bad(detail: string): GitgateError {
  return new GitgateError('PROTOCOL', { detail });
}

function oidArg(line: string, prefix: string): string {
  const oid = line.slice(prefix.length).trim();
  if (!OID.test(oid)) throw bad(`invalid object id in "${line.slice(0, 60)}"`);
  return oid;
}

export async function parseUploadRequest(reader: PktLineReader): Promise<UploadRequest> {
  const req: UploadRequest = {
    wants: [],
    capabilities: new Map(),
    shallows: [],
    depth: null,
    deepenSince: null,
    deepenNot: [],
    deepenRelative: false,
    filter: null,
    haves: [],
    done: false,
    negotiating: false,
  };
  const yielder = new Yielder();
  // Section 1: wants and shallow/deepen options, up to a flush.
  for (;;) {
    await yielder.tick();
    const pkt = await reader.readRequired('want list');
    if (pkt.type === 'flush') break;
    if (pkt.type !== 'data') throw bad('unexpected delimiter in want list');
    let line = pktToText(pkt.payload);
    if (line.startsWith('want ')) {
      const rest = line.slice(5);
      const sp = rest.indexOf(' ');
      if (req.wants.length === 0 && sp > 0) {
        req.capabilities = parseCapabilities(rest.slice(sp + 1));
        line = `want ${rest.slice(0, sp)}`;
      }
      req.wants.push(oidArg(line, 'want '));
    } else if (line.startsWith('shallow ')) {
      req.shallows.push(oidArg(line, 'shallow '));
    } else if (line.startsWith('deepen-since ')) {
      const t = Number(line.slice(13));
      if (!Number.isInteger(t)) throw bad(`invalid deepen-since "${line.slice(13, 40)}"`);
      req.deepenSince = t;
    } else if (line.startsWith('deepen-not ')) {
      req.deepenNot.push(line.slice(11));
    } else if (line === 'deepen-relative') {
      req.deepenRelative = true;
    } else if (line.startsWith('deepen ')) {
      const d = Number(line.slice(7));
      if (!Number.isInteger(d) || d <= 0) throw bad(`invalid deepen "${line.slice(7, 40)}"`);
      req.depth = d;
    } else if (line.startsWith('filter ')) {
      req.filter = line.slice(7);
    } else {
      throw bad(`unexpected line "${line.slice(0, 60)}"`);
    }
  }
  if (req.wants.length === 0) {
    // A request with no wants is how a client that needs nothing ends the conversation.
    return req;
  }
  // Section 2: haves, then flush (more rounds follow in a later request) or done.
  for (;;) {
    await yielder.tick();
    const pkt = await reader.read();
    if (pkt === null) break;
    req.negotiating = true;
    if (pkt.type === 'flush') continue;
    if (pkt.type !== 'data') throw bad('unexpected delimiter in have list');
    const line = pktToText(pkt.payload);
    if (line === 'done') {
      req.done = true;
      break;
    }
    if (line.startsWith('have ')) req.haves.push(oidArg(line, 'have '));
    else throw bad(`unexpected line "${line.slice(0, 60)}"`);
  }
  // repeated lines change nothing but the work done on them
  req.wants = [...new Set(req.wants)];
  req.haves = [...new Set(req.haves)];
  req.shallows = [...new Set(req.shallows)];
  req.deepenNot = [...new Set(req.deepenNot)];
  return req;
}

export function writeUploadRequest(req: Partial<UploadRequest> & { wants: string[] }): Buffer {
  const out: Buffer[] = [];
  const caps = req.capabilities ? [...req.capabilities].map(([k, v]) => (v ? `${k}=${v}` : k)).join(' ') : '';
  req.wants.forEach((w, i) => out.push(pktText(i === 0 && caps ? `want ${w} ${caps}` : `want ${w}`)));
  for (const s of req.shallows ?? []) out.push(pktText(`shallow ${s}`));
  if (req.depth) out.push(pktText(`deepen ${req.depth}`));
  if (req.deepenSince) out.push(pktText(`deepen-since ${req.deepenSince}`));
  for (const n of req.deepenNot ?? []) out.push(pktText(`deepen-not ${n}`));
  if (req.deepenRelative) out.push(pktText('deepen-relative'));
  if (req.filter) out.push(pktText(`filter ${req.filter}`));
  out.push(FLUSH);
  for (const h of req.haves ?? []) out.push(pktText(`have ${h}`));
  out.push(req.done ? pktText('done') : FLUSH);
  return Buffer.concat(out);
}
