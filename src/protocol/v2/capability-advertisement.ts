// Protocol v2 capability advertisement codec: "version 2" then one capability per line.
// Over HTTP it is sent without the "# service=" preamble (as git http-backend does).
import { FLUSH, PktLineReader, pktText, pktToText } from '../pkt-line.js';
import { AGENT } from '../capabilities.js';

export const V2_CAPABILITIES = [
  `agent=${AGENT}`,
  'ls-refs=unborn',
  'fetch=shallow wait-for-done filter ref-in-want',
  'server-option',
  'object-format=sha1',
];

export function writeV2Advertisement(capabilities: string[] = V2_CAPABILITIES): Buffer {
  return Buffer.concat([pktText('version 2'), ...capabilities.map((c) => pktText(c)), FLUSH]);
}

export async function parseV2Advertisement(body: Buffer): Promise<string[]> {
  const reader = new PktLineReader([body]);
  const first = await reader.read();
  if (first?.type !== 'data' || pktToText(first.payload) !== 'version 2') throw new Error('not a v2 advertisement');
  const caps: string[] = [];
  for (let p = await reader.read(); p && p.type === 'data'; p = await reader.read()) caps.push(pktToText(p.payload));
  return caps;
}

/** True when a Git-Protocol header asks for version 2. */
export function wantsV2(header: string | undefined): boolean {
  return !!header && header.split(':').some((part) => part.trim() === 'version=2');
}
