// Side-band multiplexing (gitprotocol-pack): band 1 pack data, 2 progress, 3 fatal error.
import { returnable } from '../pack/low-memory.js';
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

/** Bytes per chunk a BandFramer hands on (about 1 MiB of whole packets). */
const FRAMED_CHUNK_BYTES = 1024 * 1024;
/** Written chunks a BandFramer keeps to fill again. */
const SPARE_CHUNKS = 4;

/**
 * Frames a stream of data into side-band packets of one band, copying each byte once, straight
 * into chunks of whole packets (about 1 MiB; the last may be shorter). What it is given may
 * be reused by its producer once write() returns. The chunks it hands out are the caller's,
 * and come back to be filled again when a response has written them (returnable).
 */
export class BandFramer {
  private readonly packet: number;
  private readonly capacity: number;
  private chunk: Buffer;
  private used = 0;
  /** Chunks written by the response, to fill again (pack/low-memory.ts returnable). */
  private readonly spare: Buffer[] = [];
  /** Where the open packet's header goes, or -1. */
  private open = -1;

  constructor(
    private readonly band: number,
    limit: number,
  ) {
    this.packet = limit + 5;
    this.capacity = Math.max(1, Math.floor(FRAMED_CHUNK_BYTES / this.packet)) * this.packet;
    this.chunk = this.fresh();
  }

  private fresh(): Buffer {
    return this.spare.pop() ?? returnable(Buffer.allocUnsafe(this.capacity), (c) => this.takeBack(c));
  }

  private takeBack(chunk: Buffer): void {
    if (this.spare.length < SPARE_CHUNKS) this.spare.push(returnable(chunk, (c) => this.takeBack(c)));
  }

  /** Frame `data`; chunks completed meanwhile are pushed onto `ready`. */
  write(data: Buffer, ready: Buffer[]): void {
    for (let i = 0; i < data.length; ) {
      if (this.open < 0) {
        this.open = this.used;
        this.used += 5;
      }
      const n = Math.min(this.open + this.packet - this.used, data.length - i);
      data.copy(this.chunk, this.used, i, i + n);
      this.used += n;
      i += n;
      if (this.used === this.open + this.packet) {
        this.close();
        if (this.used === this.capacity) {
          ready.push(this.chunk);
          this.chunk = this.fresh();
          this.used = 0;
        }
      }
    }
  }

  /** The last, partly filled chunk, if any. */
  end(): Buffer | null {
    if (this.open >= 0) this.close();
    const rest = this.used ? this.chunk.subarray(0, this.used) : null;
    this.used = 0;
    return rest;
  }

  private close(): void {
    const length = this.used - this.open;
    for (let k = 3, v = length; k >= 0; k--, v >>>= 4) this.chunk[this.open + k] = HEX[v & 15]!;
    this.chunk[this.open + 4] = this.band;
    this.open = -1;
  }
}

const HEX = Buffer.from('0123456789abcdef', 'latin1');

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
