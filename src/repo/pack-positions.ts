// A pack's objects by bit position (pack order, what a reachability bitmap numbers) and back:
// the one mapping the bitmap reader (bitmap-index.ts) and writer (bitmap-write.ts) index by.
import type { PackFile } from '../pack/pack-file.js';

export class PackPositions {
  readonly count: number;
  /** Index position → pack position (bit number). */
  private readonly posOf: Uint32Array;

  constructor(
    readonly pack: PackFile,
    /** Pack position → index position. */
    readonly packOrder: Uint32Array,
  ) {
    this.count = packOrder.length;
    this.posOf = new Uint32Array(packOrder.length);
    for (let p = 0; p < packOrder.length; p++) this.posOf[packOrder[p]!] = p;
  }

  /** Bit position of the object whose 20-byte id is at `buf[at]`, or -1 outside this pack. */
  position(buf: Buffer, at = 0): number {
    const i = this.pack.index.findAt(buf, at);
    return i < 0 ? -1 : this.posOf[i]!;
  }

  /** Bit position of the object at this .idx position. */
  positionOfIndex(i: number): number {
    return this.posOf[i]!;
  }

  positionHex(oid: string): number {
    return this.position(Buffer.from(oid, 'hex'));
  }

  /** Keep the pack's ids in memory until the returned function is called (PackIndex.holdIds). */
  holdIds(): () => void {
    return this.pack.index.holdIds();
  }

  /** The object id at a bit position (a view: copy it to keep it). */
  oidAt(pos: number): Buffer {
    return this.pack.index.oidAt(this.packOrder[pos]!);
  }
}
