// A set of object ids stored as raw 20-byte keys in one Buffer with an open-addressing index,
// for walks that test every tree entry: membership is checked straight from the tree's bytes,
// without a hex string (and a Set entry) per entry. About 28 bytes per member.
import { randomInt } from 'node:crypto';
import os from 'node:os';
import { isOid } from '../oid.js';

const OID_BYTES = 20;

// Random odd multipliers per process: bucket positions depend on 96 bits of the id and
// cannot be predicted from outside (crafted ids sharing a bucket would make lookups linear).
const M1 = randomInt(1, 2 ** 31) * 2 + 1;
const M2 = randomInt(1, 2 ** 31) * 2 + 1;
const M3 = randomInt(1, 2 ** 31) * 2 + 1;

/** The 32-bit word at buf[at] as an Int32Array over the same bytes reads it (host byte order). */
const word =
  os.endianness() === 'LE'
    ? (buf: Uint8Array, at: number): number => buf[at]! | (buf[at + 1]! << 8) | (buf[at + 2]! << 16) | (buf[at + 3]! << 24)
    : (buf: Uint8Array, at: number): number => (buf[at]! << 24) | (buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!;

export class OidSet {
  private keys: Buffer;
  /** The same bytes as 32-bit words (keys has its own, aligned memory). */
  private words: Int32Array;
  /** Index into keys + 1, 0 for an empty slot. Twice as many slots as keys fit. */
  private slots: Int32Array;
  private count = 0;
  private readonly scratch = Buffer.allocUnsafe(OID_BYTES);

  constructor(capacity = 256) {
    let slots = 16;
    while (slots < capacity * 2) slots *= 2;
    this.slots = new Int32Array(slots);
    this.keys = Buffer.allocUnsafeSlow((slots / 2) * OID_BYTES);
    this.words = new Int32Array(this.keys.buffer, this.keys.byteOffset, this.keys.length / 4);
  }

  get size(): number {
    return this.count;
  }

  /** Is the 20-byte id at `buf[offset]` a member? */
  has(buf: Buffer, offset = 0): boolean {
    return this.slots[this.find(buf, offset)] !== 0;
  }

  /** Add the 20-byte id at `buf[offset]`; false if it was already there. */
  add(buf: Buffer, offset = 0): boolean {
    const slot = this.find(buf, offset);
    if (this.slots[slot] !== 0) return false;
    if ((this.count + 1) * 2 > this.slots.length) {
      this.grow();
      return this.add(buf, offset);
    }
    buf.copy(this.keys, this.count * OID_BYTES, offset, offset + OID_BYTES);
    this.slots[slot] = ++this.count;
    return true;
  }

  /** has() for a 40-digit lowercase hex id (false for anything else). */
  hasHex(oid: string): boolean {
    return isOid(oid) && (this.scratch.write(oid, 'hex'), this.has(this.scratch));
  }

  addHex(oid: string): boolean {
    if (!isOid(oid)) throw new TypeError(`not an object id: ${JSON.stringify(oid.slice(0, 60))}`);
    this.scratch.write(oid, 'hex');
    return this.add(this.scratch);
  }

  /** The members' raw ids: member k at 20 * k, for k < size (valid until the next add). */
  raw(): Buffer {
    return this.keys;
  }

  /** The members as hex strings. */
  *hexes(): IterableIterator<string> {
    for (let i = 0; i < this.count; i++) yield this.keys.toString('hex', i * OID_BYTES, (i + 1) * OID_BYTES);
  }

  /** The slot holding the id, or the empty slot where it would go. */
  private find(buf: Buffer, offset: number): number {
    const mask = this.slots.length - 1;
    // the id as five words, compared in JS: a Buffer.compare per probe is a
    // native call, and this runs once per tree entry of a push (tens of millions for git.git)
    const w0 = word(buf, offset);
    const w1 = word(buf, offset + 4);
    const w2 = word(buf, offset + 8);
    let h = (Math.imul(w0, M1) + Math.imul(w1, M2) + Math.imul(w2, M3)) >>> 0;
    h = (h ^ (h >>> 15)) & mask;
    const words = this.words;
    for (;;) {
      const at = this.slots[h]!;
      if (at === 0) return h;
      const k = (at - 1) * 5;
      if (
        words[k] === w0 &&
        words[k + 1] === w1 &&
        words[k + 2] === w2 &&
        words[k + 3] === word(buf, offset + 12) &&
        words[k + 4] === word(buf, offset + 16)
      ) {
        return h;
      }
      h = (h + 1) & mask;
    }
  }

  private grow(): void {
    const old = this.slots;
    const keys = Buffer.allocUnsafeSlow(old.length * OID_BYTES); // (2 × old.length slots) / 2
    this.keys.copy(keys, 0, 0, this.count * OID_BYTES);
    this.keys = keys;
    this.words = new Int32Array(keys.buffer, keys.byteOffset, keys.length / 4);
    this.slots = new Int32Array(old.length * 2);
    for (let i = 0; i < this.count; i++) this.slots[this.find(keys, i * OID_BYTES)] = i + 1;
  }
}
