// receive-pack command list codec: "<old> <new> <ref>" lines (capabilities after NUL on the
// first), flush, optional push-options block, then the pack (read by the caller).
import { GitgateError } from '../errors.js';
import { FLUSH, PktLineReader, pktText, pktToText } from './pkt-line.js';
import { parseCapabilities } from './capabilities.js';

export interface RefCommand {
  oldOid: string;
  newOid: string;
  ref: string;
}

export interface ReceiveRequest {
  commands: RefCommand[];
  capabilities: Map<string, string>;
  pushOptions: string[];
  shallows: string[];
}

const LINE = /^([0-9a-f]{40}) ([0-9a-f]{40}) (.+)$/;

function bad(detail: string): GitgateError {
  return new GitgateError('PROTOCOL', { detail });
}

export async function parseReceiveCommands(reader: PktLineReader, limits: { maxCommands?: number } = {}): Promise<ReceiveRequest> {
  const req: ReceiveRequest = { commands: [], capabilities: new Map(), pushOptions: [], shallows: [] };
  const max = limits.maxCommands ?? 10_000;
  for (;;) {
    const pkt = await reader.read();
    if (pkt === null) {
      if (req.commands.length === 0) break; // empty body: nothing to do
      throw bad('command list not terminated by a flush');
    }
    if (pkt.type === 'flush') break;
    if (pkt.type !== 'data') throw bad('unexpected delimiter in command list');
    let text = pktToText(pkt.payload);
    const nul = text.indexOf('\0');
    if (nul >= 0) {
      if (req.commands.length === 0) req.capabilities = parseCapabilities(text.slice(nul + 1));
      text = text.slice(0, nul);
    }
    if (text.startsWith('shallow ')) {
      req.shallows.push(text.slice(8));
      continue;
    }
    const m = LINE.exec(text);
    if (!m) throw bad(`malformed command "${text.slice(0, 100)}"`);
    if (req.commands.length >= max) throw bad(`too many ref updates (limit ${max})`);
    req.commands.push({ oldOid: m[1]!, newOid: m[2]!, ref: m[3]! });
  }
  if (req.capabilities.has('push-options') && req.commands.length > 0) {
    for (;;) {
      const pkt = await reader.readRequired('push options');
      if (pkt.type === 'flush') break;
      if (pkt.type !== 'data') throw bad('unexpected delimiter in push options');
      req.pushOptions.push(pktToText(pkt.payload));
    }
  }
  return req;
}

export function writeReceiveCommands(req: { commands: RefCommand[]; capabilities?: string[]; pushOptions?: string[] }): Buffer {
  const out: Buffer[] = [];
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
