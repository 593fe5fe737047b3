// receive-pack request codec (gitprotocol-pack's update-requests): "shallow <id>" lines, then
// "<old> <new> <ref>" lines (capabilities after a NUL on the first command), or a push-cert
// block, then flush, optional push-options block, then the pack (read by the caller).
import { GitgateError } from '../errors.js';
import { FLUSH, PktLineReader, pktText, pktToText } from './pkt-line.js';
import { parseCapabilities } from './capabilities.js';
import { Yielder } from '../event-loop.js';
import { OID_PATTERN, OID_SOURCE } from '../oid.js';

export interface RefCommand {
  oldOid: string;
  newOid: string;
  ref: string;
}

export interface ReceiveRequest {
  commands: RefCommand[];
  capabilities: Map<string, string>;
  pushOptions: string[];
  /** The client's shallow boundary commits (its .git/shallow). */
  shallows: string[];
  /** The commands came in a push certificate (push-cert is never advertised: refused). */
  pushCert: boolean;
}

export interface ParsedReceiveRequest extends ReceiveRequest {
  /** Commands beyond `maxCommands`, read and counted but not kept (with `overLimit: 'count'`). */
  dropped: number;
}

export interface ReceiveCommandLimits {
  /** Most commands kept. */
  maxCommands?: number;
  /**
   * What happens past `maxCommands`: 'throw' fails at once; 'count' reads on and counts the
   * rest, so receive-pack can refuse the whole push with a report instead of a dropped connection.
   */
  overLimit?: 'throw' | 'count';
  /** Most push options kept; more is a protocol error (C Git's receive.maxPushOptions idea). */
  maxPushOptions?: number;
  /** Most bytes of push options in total. */
  maxPushOptionBytes?: number;
}

/** Default caps on push options: git itself sends a handful. */
export const DEFAULT_MAX_PUSH_OPTIONS = 100;
export const DEFAULT_MAX_PUSH_OPTION_BYTES = 64 * 1024;
/** Largest push certificate read (it is only read to be refused with a report). */
export const MAX_PUSH_CERT_BYTES = 64 * 1024;

const LINE = new RegExp(`^(${OID_SOURCE}) (${OID_SOURCE}) (.+)$`);
const OID = OID_PATTERN;

function bad(detail: string): GitgateError {
  return new GitgateError('PROTOCOL', { detail });
}

export async function parseReceiveCommands(reader: PktLineReader, limits: ReceiveCommandLimits = {}): Promise<ParsedReceiveRequest> {
  const req: ParsedReceiveRequest = { commands: [], capabilities: new Map(), pushOptions: [], shallows: [], pushCert: false, dropped: 0 };
  const max = limits.maxCommands ?? 10_000;
  let first = true;
  let sawCaps = false;
  const yielder = new Yielder();
  const add = (text: string) => {
    const m = LINE.exec(text);
    if (!m) throw bad(`malformed command "${text.slice(0, 100)}"`);
    if (req.commands.length >= max) {
      if (limits.overLimit !== 'count') throw bad(`too many ref updates (limit ${max})`);
      req.dropped++;
      return;
    }
    req.commands.push({ oldOid: m[1]!, newOid: m[2]!, ref: m[3]! });
  };
  for (;;) {
    const pkt = await reader.read();
    if (pkt === null) {
      if (first) return req; // empty body: nothing to do
      throw bad('command list not terminated by a flush');
    }
    first = false;
    if (pkt.type === 'flush') break;
    if (pkt.type !== 'data') throw bad('unexpected delimiter in command list');
    await yielder.tick();
    let text = pktToText(pkt.payload);
    // shallow lines come before the commands and carry no capabilities (C Git's read_head_info)
    if (text.startsWith('shallow ')) {
      const oid = text.slice(8);
      if (!OID.test(oid)) throw bad(`expected shallow sha, got '${oid.slice(0, 100)}'`);
      if (req.shallows.length >= max) throw bad(`too many shallow lines (limit ${max})`);
      req.shallows.push(oid);
      continue;
    }
    const nul = text.indexOf('\0');
    if (nul >= 0) {
      if (!sawCaps) req.capabilities = parseCapabilities(text.slice(nul + 1));
      sawCaps = true;
      text = text.slice(0, nul);
    }
    if (text === 'push-cert') {
      if (req.commands.length + req.dropped > 0 || req.pushCert) throw bad('got both push certificate and unsigned commands');
      req.pushCert = true;
      if (await readPushCert(reader, add)) break; // a flush ended the certificate and the list
      continue;
    }
    if (req.pushCert) throw bad('got both push certificate and unsigned commands');
    add(text);
  }
  if (req.capabilities.has('push-options') && req.commands.length + req.dropped > 0) await readPushOptions(reader, req, limits);
  return req;
}

/**
 * A push-cert block up to "push-cert-end" (or a flush, returned as true): its commands (the
 * lines after the header's blank line, before the signature) are kept so each can be refused.
 */
async function readPushCert(reader: PktLineReader, add: (line: string) => void): Promise<boolean> {
  const lines: string[] = [];
  let bytes = 0;
  let flushed = false;
  for (;;) {
    const pkt = await reader.readRequired('push certificate');
    if (pkt.type === 'flush') {
      flushed = true;
      break;
    }
    if (pkt.type !== 'data') throw bad('unexpected delimiter in push certificate');
    bytes += pkt.payload.length;
    if (bytes > MAX_PUSH_CERT_BYTES) throw bad(`push certificate too large (limit ${MAX_PUSH_CERT_BYTES} bytes)`);
    const line = pktToText(pkt.payload);
    if (line === 'push-cert-end') break;
    lines.push(line);
  }
  const blank = lines.indexOf('');
  if (blank < 0) throw bad(`malformed push certificate ${lines.join('\n').slice(0, 100)}`);
  for (const line of lines.slice(blank + 1)) {
    if (line.startsWith('-----BEGIN ')) break; // the signature
    add(line);
  }
  return flushed;
}

async function readPushOptions(reader: PktLineReader, req: ReceiveRequest, limits: ReceiveCommandLimits): Promise<void> {
  const maxCount = limits.maxPushOptions ?? DEFAULT_MAX_PUSH_OPTIONS;
  const maxBytes = limits.maxPushOptionBytes ?? DEFAULT_MAX_PUSH_OPTION_BYTES;
  let bytes = 0;
  for (;;) {
    const pkt = await reader.readRequired('push options');
    if (pkt.type === 'flush') return;
    if (pkt.type !== 'data') throw bad('unexpected delimiter in push options');
    bytes += pkt.payload.length;
    if (req.pushOptions.length >= maxCount) throw bad(`too many push options (limit ${maxCount})`);
    if (bytes > maxBytes) throw bad(`push options too large (limit ${maxBytes} bytes)`);
    req.pushOptions.push(pktToText(pkt.payload));
  }
}

export function writeReceiveCommands(req: { commands: RefCommand[]; capabilities?: string[]; pushOptions?: string[]; shallows?: string[] }): Buffer {
  const out: Buffer[] = (req.shallows ?? []).map((oid) => pktText(`shallow ${oid}`));
  const caps = (req.capabilities ?? []).join(' ');
  req.commands.forEach((c, i) => {
    const line = `${c.oldOid} ${c.newOid} ${c.ref}`;
    out.push(pktText(i === 0 ? `${line}\0${caps}` : line));
  });
  out.push(FLUSH);
  if (req.pushOptions && req.capabilities?.includes('push-options')) {
    for (const o of req.pushOptions) out.push(pktText(o));
    out.push(FLUSH);
  }
  return Buffer.concat(out);
}
