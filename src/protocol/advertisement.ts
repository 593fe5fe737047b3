// v0 ref advertisement codec: "# service=..." preamble for smart HTTP, then one pkt-line per
// ref with capabilities after a NUL on the first, peeled tags as "<ref>^{}".
import { PktLineReader, PktTextWriter, pktToText } from './pkt-line.js';
import { ZERO_OID } from '../oid.js';


export interface AdvertisedRef {
  name: string;
  oid: string;
  peeled?: string;
}

export interface Advertisement {
  service: string;
  refs: AdvertisedRef[]; // HEAD first when present, as C Git does
  capabilities: string[];
}

/**
 * The advertisement: `head` (when given) first, then `refs`; capabilities after a NUL on the
 * first line. The lines after the first are rendered once per `refs` array (listRefs hands out
 * the same one while the refs are unchanged), so a repository with 20,000 tags is not re-encoded
 * per request.
 */
export function writeAdvertisement(ad: {
  service: string;
  head?: Readonly<AdvertisedRef> | null;
  refs: readonly Readonly<AdvertisedRef>[];
  capabilities: string[];
}): Buffer {
  const out = new PktTextWriter().line(`# service=${ad.service}`).flush();
  const caps = ad.capabilities.join(' ');
  const first = ad.head ?? ad.refs[0];
  if (!first) return out.line(`${ZERO_OID} capabilities^{}\0${caps}`).flush().toBuffer();
  out.line(`${first.oid} ${first.name}\0${caps}`);
  if (first.peeled) out.line(`${first.peeled} ${first.name}^{}`);
  return out.append(renderRefs(ad.refs, ad.head ? 0 : 1)).flush().toBuffer();
}

const renderings = new WeakMap<object, PktTextWriter[]>();

function renderRefs(refs: readonly Readonly<AdvertisedRef>[], from: number): PktTextWriter {
  let memo = renderings.get(refs);
  if (!memo) renderings.set(refs, (memo = []));
  const hit = memo[from];
  if (hit) return hit;
  const out = new PktTextWriter();
  for (let i = from; i < refs.length; i++) {
    const ref = refs[i]!;
    out.line(`${ref.oid} ${ref.name}`);
    if (ref.peeled) out.line(`${ref.peeled} ${ref.name}^{}`);
  }
  memo[from] = out;
  return out;
}

export async function parseAdvertisement(body: Buffer): Promise<Advertisement> {
  const reader = new PktLineReader([body]);
  const first = await reader.read();
  if (first?.type !== 'data') throw new Error('missing service line');
  const service = pktToText(first.payload).replace(/^# service=/, '');
  if ((await reader.read())?.type !== 'flush') throw new Error('missing flush after service line');
  const refs: AdvertisedRef[] = [];
  let capabilities: string[] = [];
  for (;;) {
    const pkt = await reader.read();
    if (!pkt || pkt.type === 'flush') break;
    if (pkt.type !== 'data') continue;
    let line = pktToText(pkt.payload);
    const nul = line.indexOf('\0');
    if (nul >= 0) {
      capabilities = line.slice(nul + 1).split(' ').filter(Boolean);
      line = line.slice(0, nul);
    }
    const [oid, name] = line.split(' ') as [string, string];
    if (name === 'capabilities^{}') continue;
    if (name.endsWith('^{}')) {
      const target = refs.find((r) => r.name === name.slice(0, -3));
      if (target) target.peeled = oid;
      continue;
    }
    refs.push({ name, oid });
  }
  return { service, refs, capabilities };
}
