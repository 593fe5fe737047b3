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

/** An empty band-1 packet: C Git's keepalive while the other side waits for a slow step. */
export const KEEPALIVE = Buffer.from('0005\x01', 'latin1');

/**
 * Await `work`, yielding `tick()`'s packet (if any) every `everyMs` until it settles, so that
 * neither the client nor a proxy between gives up on a silent connection (C Git's
 * uploadpack.keepAlive / receive.keepAlive). Returns what `work` resolves to; its rejection is
 * thrown here.
 */
export async function* whileWaiting<T>(work: Promise<T>, everyMs: number, tick: () => Buffer | null): AsyncGenerator<Buffer, T> {
  const settled = work.then(
    () => 'done' as const,
    () => 'done' as const, // surfaces from `await work` below (and is never unhandled)
  );
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'tick'>((resolve) => {
      timer = setTimeout(() => resolve('tick'), everyMs);
    });
    const state = await Promise.race([settled, timeout]);
    clearTimeout(timer);
    if (state === 'done') return await work;
    const packet = tick();
    if (packet) yield packet;
  }
}
