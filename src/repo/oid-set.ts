// A set of object ids stored as raw 20-byte keys in one Buffer with an open-addressing index,
// for walks that test every tree entry: membership is checked straight from the tree's bytes,
// without a hex string (and a Set entry) per entry. About 28 bytes per member.
import { randomInt } from 'node:crypto';
import { isOid } from '../oid.js';

const OID_BYTES = 20;

// Random odd multipliers per process: bucket positions depend on 96 bits of the id and
// cannot be predicted from outside (crafted ids sharing a bucket would make lookups linear).
const M1 = randomInt(1, 2 ** 31) * 2 + 1;
const M2 = randomInt(1, 2 ** 31) * 2 + 1;
const M3 = randomInt(1, 2 ** 31) * 2 + 1;

export class OidSet {
  private keys: Buffer;
  /** Index into keys + 1, 0 for an empty slot. Twice as many slots as keys fit. */
  private slots: Int32Array;
  private count = 0;
  private readonly scratch = Buffer.allocUnsafe(OID_BYTES);

  constructor(capacity = 256) {
    let slots = 16;
    while (slots < capacity * 2) slots *= 2;
    this.slots = new Int32Array(slots);
    this.keys = Buffer.allocUnsafe((slots / 2) * OID_BYTES);
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

  /** The members as hex strings. */
  *hexes(): IterableIterator<string> {
    for (let i = 0; i < this.count; i++) yield this.keys.toString('hex', i * OID_BYTES, (i + 1) * OID_BYTES);
  }

  /** The slot holding the id, or the empty slot where it would go. */
  private find(buf: Buffer, offset: number): number {
    const mask = this.slots.length - 1;
    const first = buf.readInt32LE(offset);
    let h = (Math.imul(first, M1) + Math.imul(buf.readInt32LE(offset + 4), M2) + Math.imul(buf.readInt32LE(offset + 8), M3)) >>> 0;
    h = (h ^ (h >>> 15)) & mask;
    const keys = this.keys;
    for (;;) {
      const at = this.slots[h]!;
      if (at === 0) return h;
      const k = (at - 1) * OID_BYTES;
      if (keys.readInt32LE(k) === first && keys.compare(buf, offset, offset + OID_BYTES, k, k + OID_BYTES) === 0) return h;
      h = (h + 1) & mask;
    }
  }

  private grow(): void {
    const old = this.slots;
    const keys = Buffer.allocUnsafe(old.length * OID_BYTES); // (2 × old.length slots) / 2
    this.keys.copy(keys, 0, 0, this.count * OID_BYTES);
    this.keys = keys;
    this.slots = new Int32Array(old.length * 2);
    for (let i = 0; i < this.count; i++) this.slots[this.find(keys, i * OID_BYTES)] = i + 1;
  }
}
