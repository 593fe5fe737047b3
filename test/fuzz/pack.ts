// Pack files for the fuzzer (independent of src/pack): walking a real pack's entries, and
// building corrupt variants — truncations, bit flips with or without a repaired trailer, bad
// entry headers and sizes, bad ofs-delta distances, ref-deltas to missing bases, absurd
// object counts, zlib bombs and delta bombs.
import { createHash } from 'node:crypto';
import zlib from 'node:zlib';
import type { Rng } from './prng.js';

export interface PackEntry {
  offset: number;
  /** type+size header length (without ofs distance / base oid) */
  headerLength: number;
  type: number;
  size: number;
  /** ofs-delta distance, ref-delta base */
  distance?: number;
  distanceLength?: number;
  baseOid?: Buffer;
  dataStart: number;
  end: number;
}

export interface ParsedPack {
  count: number;
  entries: PackEntry[];
}

export function parsePack(pack: Buffer): ParsedPack {
  if (pack.subarray(0, 4).toString('latin1') !== 'PACK') throw new Error('not a pack');
  const count = pack.readUInt32BE(8);
  const entries: PackEntry[] = [];
  let pos = 12;
  for (let i = 0; i < count; i++) {
    const offset = pos;
    let c = pack[pos++]!;
    const type = (c >> 4) & 7;
    let size = c & 15;
    let shift = 16;
    while (c & 0x80) {
      c = pack[pos++]!;
      size += (c & 0x7f) * shift;
      shift *= 128;
    }
    const headerLength = pos - offset;
    const entry: PackEntry = { offset, headerLength, type, size, dataStart: 0, end: 0 };
    if (type === 6) {
      const start = pos;
      c = pack[pos++]!;
      let d = c & 0x7f;
      while (c & 0x80) {
        c = pack[pos++]!;
        d = (d + 1) * 128 + (c & 0x7f);
      }
      entry.distance = d;
      entry.distanceLength = pos - start;
    } else if (type === 7) {
      entry.baseOid = Buffer.from(pack.subarray(pos, pos + 20));
      pos += 20;
    }
    entry.dataStart = pos;
    const info = zlib.inflateSync(pack.subarray(pos, pack.length - 20), { info: true }) as unknown as { engine: { bytesWritten: number } };
    pos += info.engine.bytesWritten;
    entry.end = pos;
    entries.push(entry);
  }
  return { count, entries };
}

/** Recomputes the SHA-1 trailer so the corruption inside is what the server must find. */
export function fixTrailer(body: Buffer): Buffer {
  if (body.length < 20) return body;
  const out = Buffer.from(body);
  createHash('sha1').update(out.subarray(0, out.length - 20)).digest().copy(out, out.length - 20);
  return out;
}

export function packHeader(count: number, version = 2): Buffer {
  const h = Buffer.alloc(12);
  h.write('PACK', 0, 'latin1');
  h.writeUInt32BE(version >>> 0, 4);
  h.writeUInt32BE(count >>> 0, 8);
  return h;
}

export function entryHeader(type: number, size: number): Buffer {
  const bytes: number[] = [];
  let rest = Math.floor(size / 16);
  let byte = ((type & 7) << 4) | (size % 16);
  while (rest > 0) {
    bytes.push(byte | 0x80);
    byte = rest % 128;
    rest = Math.floor(rest / 128);
  }
  bytes.push(byte);
  return Buffer.from(bytes);
}

export function ofsDistance(distance: number): Buffer {
  const bytes = [distance % 128];
  let rest = Math.floor(distance / 128);
  while (rest > 0) {
    rest -= 1;
    bytes.push(0x80 | (rest % 128));
    rest = Math.floor(rest / 128);
  }
  return Buffer.from(bytes.reverse());
}

/** A complete pack from raw entries (header + count + entries + trailer). */
export function buildPack(entries: Buffer[], count = entries.length, version = 2): Buffer {
  return fixTrailer(Buffer.concat([packHeader(count, version), ...entries, Buffer.alloc(20)]));
}

export function wholeEntry(type: number, content: Buffer): Buffer {
  return Buffer.concat([entryHeader(type, content.length), zlib.deflateSync(content)]);
}

function varint(n: number): Buffer {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}

/** A delta whose instructions are given raw (base size, result size, body). */
export function deltaBytes(baseSize: number, resultSize: number, instructions: Buffer): Buffer {
  return Buffer.concat([varint(baseSize), varint(resultSize), instructions]);
}

/** copy instruction: offset/size each up to 4/3 bytes (size 0 means 0x10000) */
export function copyOp(offset: number, size: number): Buffer {
  let cmd = 0x80;
  const args: number[] = [];
  for (let i = 0; i < 4; i++) {
    const b = Math.floor(offset / 256 ** i) % 256;
    if (b) {
      cmd |= 1 << i;
      args.push(b);
    }
  }
  for (let i = 0; i < 3; i++) {
    const b = Math.floor(size / 256 ** i) % 256;
    if (b) {
      cmd |= 0x10 << i;
      args.push(b);
    }
  }
  return Buffer.from([cmd, ...args]);
}

/** gitformat-object id of a loose object */
export function objectId(type: string, content: Buffer): string {
  return createHash('sha1').update(`${type} ${content.length}\0`).update(content).digest('hex');
}

/**
 * One mutation of a real pack. Returns the new bytes and a description. About half of the
 * byte-level corruptions get a repaired trailer so the indexer has to find them itself.
 */
export function mutatePack(rng: Rng, pack: Buffer, knownOids: string[]): { pack: Buffer; what: string } {
  let parsed: ParsedPack;
  try {
    parsed = parsePack(pack);
  } catch {
    return { pack: Buffer.from(pack.subarray(0, rng.int(pack.length))), what: 'truncate unparsable pack' };
  }
  const { entries } = parsed;
  const body = Buffer.from(pack);
  if (entries.length === 0) {
    const at = rng.int(body.length);
    body[at]! ^= 1 << rng.int(8);
    return { pack: rng.chance(0.5) ? fixTrailer(body) : body, what: `flip a bit at ${at} of an empty pack` };
  }
  const pickEntry = (pred: (e: PackEntry) => boolean = () => true) => {
    const list = entries.filter(pred);
    return list.length ? rng.pick(list) : null;
  };
  const rebuild = (parts: Buffer[], count: number) => buildPack(parts, count);
  const rawOf = (e: PackEntry) => body.subarray(e.offset, e.end);
  const kind = rng.weighted<string>([
    ['truncate', 6],
    ['truncate-entry', 4],
    ['flip', 5],
    ['flip-fixed', 8],
    ['trailer', 2],
    ['count', 5],
    ['version', 2],
    ['type', 5],
    ['size', 7],
    ['size-huge', 3],
    ['header-overlong', 2],
    ['ofs', 7],
    ['ref-base', 6],
    ['zlib', 4],
    ['duplicate', 3],
    ['reorder', 3],
    ['drop', 3],
    ['trailing', 2],
    ['zlib-bomb', 1],
    ['delta-bomb', 2],
    ['delta-ops', 5],
    ['signature', 1],
    ['empty', 1],
  ]);
  switch (kind) {
    case 'truncate': {
      const at = rng.chance(0.3) ? rng.int(12) : rng.int(body.length);
      return { pack: body.subarray(0, at), what: `truncate pack to ${at} of ${body.length} bytes` };
    }
    case 'truncate-entry': {
      const e = pickEntry()!;
      const at = rng.range(e.offset, e.end);
      const cut = Buffer.concat([body.subarray(0, at), Buffer.alloc(20)]);
      return { pack: fixTrailer(cut), what: `cut inside entry at ${e.offset} (byte ${at}), trailer repaired` };
    }
    case 'flip':
    case 'flip-fixed': {
      const n = rng.range(1, 4);
      const where: number[] = [];
      for (let i = 0; i < n; i++) {
        const at = 12 + rng.int(Math.max(1, body.length - 32));
        body[at]! ^= 1 << rng.int(8);
        where.push(at);
      }
      const fixed = kind === 'flip-fixed';
      return { pack: fixed ? fixTrailer(body) : body, what: `flip bits at ${where.join(',')}${fixed ? ', trailer repaired' : ''}` };
    }
    case 'trailer': {
      const at = body.length - 1 - rng.int(20);
      body[at]! ^= 1 << rng.int(8);
      return { pack: body, what: `flip trailer byte ${at}` };
    }
    case 'count': {
      const c = rng.pick([0, 1, parsed.count - 1, parsed.count + 1, parsed.count * 2, 0x7fffffff, 0xffffffff, rng.next()]);
      body.writeUInt32BE(c >>> 0, 8);
      return { pack: rng.chance(0.8) ? fixTrailer(body) : body, what: `object count ${parsed.count} -> ${c >>> 0}` };
    }
    case 'version': {
      const v = rng.pick([0, 1, 3, 4, 0xffffffff]);
      body.writeUInt32BE(v >>> 0, 4);
      return { pack: fixTrailer(body), what: `pack version ${v}` };
    }
    case 'signature': {
      body.write(rng.pick(['KCAP', 'pack', 'PAC\0', '\0\0\0\0']), 0, 'latin1');
      return { pack: fixTrailer(body), what: 'bad pack signature' };
    }
    case 'empty': {
      return { pack: buildPack([], 0), what: 'empty pack (0 objects) for commands that need objects' };
    }
    case 'type': {
      const e = pickEntry()!;
      const t = rng.pick([0, 5, 6, 7, 1, 2, 3, 4].filter((x) => x !== e.type));
      body[e.offset] = (body[e.offset]! & 0x8f) | (t << 4);
      return { pack: fixTrailer(body), what: `entry at ${e.offset}: type ${e.type} -> ${t}` };
    }
    case 'size':
    case 'size-huge': {
      const e = pickEntry()!;
      const size =
        kind === 'size'
          ? Math.max(0, e.size + rng.pick([-1, 1, -e.size, 7, -7, 4096]))
          : rng.pick([2 ** 32, 2 ** 32 + e.size, 2 ** 31, 2 ** 40, 2 ** 53 - 1, 0xffffffff, 5 * 1024 ** 3, 100 * 1024 ** 2]);
      const parts = entries.map((x) => {
        if (x !== e) return rawOf(x);
        return Buffer.concat([entryHeader(x.type, size), body.subarray(x.offset + x.headerLength, x.end)]);
      });
      return { pack: rebuild(parts, entries.length), what: `entry at ${e.offset}: declared size ${e.size} -> ${size}` };
    }
    case 'header-overlong': {
      const e = pickEntry()!;
      const extra = rng.range(8, 20);
      const hdr = Buffer.concat([Buffer.from([body[e.offset]! | 0x80]), Buffer.alloc(extra, 0x80), Buffer.from([0x00])]);
      const parts = entries.map((x) => (x !== e ? rawOf(x) : Buffer.concat([hdr, body.subarray(x.offset + x.headerLength, x.end)])));
      return { pack: rebuild(parts, entries.length), what: `entry at ${e.offset}: ${extra + 2}-byte size varint` };
    }
    case 'ofs': {
      const e = pickEntry((x) => x.type === 6);
      if (!e) return mutatePack(rng, pack, knownOids);
      const distance = rng.pick([
        0,
        1,
        e.distance! - 1,
        e.distance! + 1,
        e.offset - 11,
        e.offset,
        e.offset + 100,
        2 ** 31,
        2 ** 53 - 1,
        e.distance! + rng.range(2, 200),
      ]);
      const enc =
        rng.chance(0.15)
          ? Buffer.concat([Buffer.alloc(rng.range(10, 14), 0xff), Buffer.from([0x01])]) // over-long
          : distance > 0
            ? ofsDistance(distance)
            : Buffer.from([0]);
      const parts = entries.map((x) =>
        x !== e
          ? rawOf(x)
          : Buffer.concat([body.subarray(x.offset, x.offset + x.headerLength), enc, body.subarray(x.dataStart, x.end)]),
      );
      // distances are relative to this entry's own offset, which does not move
      return { pack: rebuild(parts, entries.length), what: `ofs-delta at ${e.offset}: distance ${e.distance} -> ${enc.length > 10 ? 'over-long encoding' : distance}` };
    }
    case 'ref-base': {
      // turn an ofs-delta into a ref-delta on a chosen base, or change a ref-delta's base
      const e = pickEntry((x) => x.type === 6 || x.type === 7);
      if (!e) return mutatePack(rng, pack, knownOids);
      const choice = rng.pick(['missing', 'zero', 'self', 'known', 'later']);
      let base: Buffer;
      if (choice === 'missing') base = rng.bytes(20);
      else if (choice === 'zero') base = Buffer.alloc(20);
      else if (choice === 'known' && knownOids.length) base = Buffer.from(rng.pick(knownOids), 'hex');
      else base = rng.bytes(20);
      if (choice === 'self' || choice === 'later') {
        // a cycle: this delta's base is (the eventual id of) itself — unknown id, never resolvable
        base = createHash('sha1').update(rawOf(e)).digest();
      }
      const parts = entries.map((x) =>
        x !== e
          ? rawOf(x)
          : Buffer.concat([entryHeader(7, x.size), base, body.subarray(x.dataStart, x.end)]),
      );
      return { pack: rebuild(parts, entries.length), what: `delta at ${e.offset} -> ref-delta on ${choice} base ${base.toString('hex')}` };
    }
    case 'zlib': {
      const e = pickEntry()!;
      const data = Buffer.from(body.subarray(e.dataStart, e.end));
      const how = rng.pick(['garbage', 'cut', 'uncompressed', 'stored-extra', 'raw-deflate']);
      let repl: Buffer;
      if (how === 'garbage') repl = rng.bytes(data.length);
      else if (how === 'cut') repl = data.subarray(0, rng.int(data.length));
      else if (how === 'uncompressed') repl = zlib.inflateSync(data);
      else if (how === 'stored-extra') repl = zlib.deflateSync(Buffer.concat([zlib.inflateSync(data), Buffer.from('x')]), { level: 0 });
      else repl = zlib.deflateRawSync(zlib.inflateSync(data));
      const parts = entries.map((x) => (x !== e ? rawOf(x) : Buffer.concat([body.subarray(x.offset, x.dataStart), repl])));
      return { pack: rebuild(parts, entries.length), what: `entry at ${e.offset}: zlib data ${how}` };
    }
    case 'duplicate': {
      const e = pickEntry((x) => x.type !== 6) ?? entries[0]!;
      const parts = entries.map(rawOf);
      parts.push(rawOf(e));
      return { pack: rebuild(parts, parts.length), what: `entry at ${e.offset} appended twice (duplicate object)` };
    }
    case 'reorder': {
      const parts = rng.shuffle(entries.map(rawOf));
      return { pack: rebuild(parts, parts.length), what: 'entries shuffled (ofs-deltas now point at wrong offsets)' };
    }
    case 'drop': {
      const e = pickEntry()!;
      const parts = entries.filter((x) => x !== e).map(rawOf);
      return { pack: rebuild(parts, rng.chance(0.5) ? parts.length : entries.length), what: `entry at ${e.offset} (type ${e.type}) dropped` };
    }
    case 'trailing': {
      const extra = rng.bytes(rng.range(1, 64));
      const fixed = rng.chance(0.5);
      const out = fixed ? fixTrailer(Buffer.concat([body.subarray(0, body.length - 20), extra, Buffer.alloc(20)])) : Buffer.concat([body, extra]);
      return { pack: out, what: `${extra.length} bytes of trailing garbage${fixed ? ' before a repaired trailer' : ' after the trailer'}` };
    }
    case 'zlib-bomb': {
      // a blob declaring (and inflating to) many MiB from a few KiB: the indexer must stream it
      const mib = rng.pick([8, 64, 256]);
      const stream = zlibZeros(mib * 1024 * 1024);
      const bomb = Buffer.concat([entryHeader(3, mib * 1024 * 1024 + (rng.chance(0.5) ? 1 : 0)), stream]);
      const parts = [...entries.map(rawOf), bomb];
      return { pack: rebuild(parts, parts.length), what: `extra blob entry: zlib bomb of ${mib} MiB zeros (size maybe off by one)` };
    }
    case 'delta-bomb': {
      // a small base and a delta announcing a huge result made of repeated copies of it
      const base = Buffer.alloc(4096, 0x61);
      const baseEntry = wholeEntry(3, base);
      const count = rng.pick([1, 16, 1024, 16_384]);
      const consistent = rng.chance(0.4);
      // consistent: a valid delta whose result really is count × 4 KiB (up to 64 MiB from ~32 KiB)
      const resultSize = consistent ? count * 4096 : rng.pick([64 * 1024 ** 2, 512 * 1024 ** 2, 2 ** 32 - 1, 2 ** 40]);
      const ops = Buffer.concat(Array.from({ length: count }, () => copyOp(0, 4096)));
      const delta = deltaBytes(4096, resultSize, ops);
      const start = body.length - 20; // where the base entry will begin (after the existing entries)
      const deltaOffset = start + baseEntry.length;
      const deltaEntry = Buffer.concat([entryHeader(6, delta.length), ofsDistance(deltaOffset - start), zlib.deflateSync(delta)]);
      const parts = [...entries.map(rawOf), baseEntry, deltaEntry];
      return { pack: rebuild(parts, parts.length), what: `delta bomb: ${count} copy ops declaring a ${resultSize}-byte result${consistent ? ' (valid)' : ''}` };
    }
    case 'delta-ops': {
      // rewrite one delta's instructions: copies out of range, reserved op 0, truncated inserts, wrong sizes
      const e = pickEntry((x) => x.type === 6 || x.type === 7);
      if (!e) return mutatePack(rng, pack, knownOids);
      const delta = zlib.inflateSync(body.subarray(e.dataStart, e.end));
      const how = rng.pick(['op0', 'copy-oob', 'insert-cut', 'base-size', 'result-size', 'flip', 'copy-huge-offset']);
      let nd: Buffer;
      if (how === 'op0') nd = Buffer.concat([delta, Buffer.from([0])]);
      else if (how === 'copy-oob') nd = Buffer.concat([delta, copyOp(0xfff0, 0x100)]);
      else if (how === 'copy-huge-offset') nd = Buffer.concat([delta, copyOp(0xfffffff0, 0x10)]);
      else if (how === 'insert-cut') nd = Buffer.concat([delta, Buffer.from([0x7f, 0x41])]);
      else if (how === 'base-size') nd = Buffer.concat([Buffer.from([0x01]), delta]);
      else if (how === 'result-size') {
        const copy = Buffer.from(delta);
        // bump the second varint's first byte
        let p = 0;
        while (copy[p]! & 0x80) p++;
        copy[p + 1]! ^= 0x01;
        nd = copy;
      } else {
        nd = Buffer.from(delta);
        nd[rng.int(nd.length)]! ^= 1 << rng.int(8);
      }
      const head = e.type === 6 ? body.subarray(e.offset + e.headerLength, e.dataStart) : e.baseOid!;
      const parts = entries.map((x) => (x !== e ? rawOf(x) : Buffer.concat([entryHeader(x.type, nd.length), head, zlib.deflateSync(nd)])));
      return { pack: rebuild(parts, entries.length), what: `delta at ${e.offset}: instructions ${how}` };
    }
  }
  return { pack: body, what: 'unchanged' };
}

const zeroStreams = new Map<number, Buffer>();

/** zlib stream of n zero bytes, built from one repeated deflate block (never holds n bytes). */
export function zlibZeros(n: number): Buffer {
  const cached = zeroStreams.get(n);
  if (cached) return cached;
  const unit = 1024 * 1024;
  const block = zlib.deflateRawSync(Buffer.alloc(Math.min(unit, n)), { level: 9, finishFlush: zlib.constants.Z_SYNC_FLUSH });
  const parts: Buffer[] = [Buffer.from([0x78, 0x9c])];
  let left = n;
  let adlerA = 1;
  let adlerB = 0;
  while (left >= unit) {
    parts.push(block);
    left -= unit;
    // adler32 of zeros: a stays 1, b grows by a per byte
    adlerB = (adlerB + unit * adlerA) % 65521;
  }
  if (left > 0) {
    parts.push(zlib.deflateRawSync(Buffer.alloc(left), { level: 9, finishFlush: zlib.constants.Z_SYNC_FLUSH }));
    adlerB = (adlerB + left * adlerA) % 65521;
  }
  parts.push(Buffer.from([0x03, 0x00])); // final empty fixed block
  const adler = Buffer.alloc(4);
  adler.writeUInt32BE(((adlerB << 16) | adlerA) >>> 0);
  parts.push(adler);
  const out = Buffer.concat(parts);
  zeroStreams.set(n, out);
  return out;
}
