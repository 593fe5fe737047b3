// Side-band multiplexing (gitprotocol-pack): band 1 pack data, 2 progress, 3 fatal error.
import { pktLine } from './pkt-line.js';

export const BAND_DATA = 1;
export const BAND_PROGRESS = 2;
export const BAND_ERROR = 3;

/** Largest payload per band packet: 65520 for side-band-64k, 1000 for plain side-band. */
export function bandLimit(sideband64k: boolean): number {
  return (sideband64k ? 65520 : 1000) - 5;
}

/** Wrap data into one or more side-band packets of the given band. */
export function sidebandPackets(band: number, data: Buffer, limit: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += limit) {
    const piece = data.subarray(i, Math.min(i + limit, data.length));
    out.push(pktLine(Buffer.concat([Buffer.from([band]), piece])));
  }
  return out;
}

/** The same packets as one buffer, copying the data once (the hot path of every fetch). */
export function sidebandBuffer(band: number, data: Buffer, limit: number): Buffer {
  const packets = Math.ceil(data.length / limit);
  const out = Buffer.allocUnsafe(data.length + packets * 5);
  let at = 0;
  for (let i = 0; i < data.length; i += limit) {
    const n = Math.min(limit, data.length - i);
    out.write((n + 5).toString(16).padStart(4, '0'), at, 'latin1');
    out[at + 4] = band;
    data.copy(out, at + 5, i, i + n);
    at += n + 5;
  }
  return out;
}

/** Decode a side-band packet payload into band and data. */
export function parseSideband(payload: Buffer): { band: number; data: Buffer } {
  return { band: payload[0] ?? 0, data: payload.subarray(1) };
}
