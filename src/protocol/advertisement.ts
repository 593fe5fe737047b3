// v0 ref advertisement codec: "# service=..." preamble for smart HTTP, then one pkt-line per
// ref with capabilities after a NUL on the first, peeled tags as "<ref>^{}".
import { FLUSH, PktLineReader, pktText, pktToText } from './pkt-line.js';
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

export function writeAdvertisement(ad: Advertisement): Buffer {
  const out: Buffer[] = [pktText(`# service=${ad.service}`), FLUSH];
  const caps = ad.capabilities.join(' ');
  if (ad.refs.length === 0) {
    out.push(pktText(`${ZERO_OID} capabilities^{}\0${caps}`));
  }
  ad.refs.forEach((ref, i) => {
    out.push(pktText(i === 0 ? `${ref.oid} ${ref.name}\0${caps}` : `${ref.oid} ${ref.name}`));
    if (ref.peeled) out.push(pktText(`${ref.peeled} ${ref.name}^{}`));
  });
  out.push(FLUSH);
  return Buffer.concat(out);
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
