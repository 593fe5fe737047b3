// Protocol v2 command request codec: "command=<name>", capability lines, delim, argument
// lines, flush (gitprotocol-v2 "Command Request").
import { GitgateError } from '../../errors.js';
import { DELIM, FLUSH, PktLineReader, pktText, pktToText } from '../pkt-line.js';
import { Yielder } from '../../event-loop.js';

export interface CommandRequest {
  command: string;
  capabilities: string[];
  args: string[];
}

function bad(detail: string): GitgateError {
  return new GitgateError('PROTOCOL', { detail });
}

/** The next command, or null when the client sent nothing (or only a flush). */
export async function parseCommandRequest(reader: PktLineReader, limits: { maxArgs?: number } = {}): Promise<CommandRequest | null> {
  const maxArgs = limits.maxArgs ?? 1_000_000;
  const first = await reader.read();
  if (first === null || first.type === 'flush') return null;
  if (first.type !== 'data') throw bad('expected a command');
  const line = pktToText(first.payload);
  if (!line.startsWith('command=')) throw bad(`expected a command, got "${line.slice(0, 60)}"`);
  const req: CommandRequest = { command: line.slice(8), capabilities: [], args: [] };
  let inArgs = false;
  const yielder = new Yielder();
  for (;;) {
    await yielder.tick();
    const pkt = await reader.readRequired('command request');
    if (pkt.type === 'flush') break;
    if (pkt.type === 'delim') {
      if (inArgs) throw bad('unexpected delimiter in arguments');
      inArgs = true;
      continue;
    }
    if (pkt.type !== 'data') throw bad('unexpected response-end in request');
    const text = pktToText(pkt.payload);
    if (inArgs) {
      if (req.args.length >= maxArgs) throw bad(`too many arguments (limit ${maxArgs})`);
      req.args.push(text);
    } else req.capabilities.push(text);
  }
  return req;
}

export function writeCommandRequest(req: CommandRequest): Buffer {
  return Buffer.concat([
    pktText(`command=${req.command}`),
    ...req.capabilities.map((c) => pktText(c)),
    DELIM,
    ...req.args.map((a) => pktText(a)),
    FLUSH,
  ]);
}
