import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeEntryHeader, encodeOfsDeltaOffset } from '../../src/pack/entry-header.js';
import type { FileHandleLike } from '../../src/pack/file-handle.js';
import { PackIndex } from '../../src/pack/idx.js';
import { indexPack, type IndexPackOptions, type IndexPackResult } from '../../src/pack/indexer.js';
import { PackFile } from '../../src/pack/pack-file.js';
import { SYNC_INFLATE_LIMIT } from '../../src/pack/inflate.js';
import { writePack, type PackEntry } from '../../src/pack/pack-writer.js';
import { OBJ_COMMIT, OBJ_TAG, OBJ_TREE, hashObject, typeFromCode, type GitObject } from '../../src/pack/types.js';
import {
  allObjects,
  caught,
  chunked,
  collect,
  fixtureRepo,
  git,
  gitIndexPack,
  packObjects,
  removeDir,
  repackedFiles,
  rng,
  tempDir,
  verifyPack,
  withTrailer,
} from './helpers.js';

let repo: string;
let work: string;
let objects: Map<string, GitObject>;
/** Real packs made by git, each with the .idx git index-pack writes for it. */
const packs: Record<string, { pack: Buffer; idx: Buffer; packPath: string }> = {};

function addPack(name: string, pack: Buffer): void {
  const { packPath, idxPath } = gitIndexPack(work, name, pack);
  packs[name] = { pack, idx: fs.readFileSync(idxPath), packPath };
}

beforeAll(() => {
  repo = fixtureRepo({ bigBlob: true });
  work = tempDir();
  objects = allObjects(repo);
  addPack('ref', packObjects(repo, ['--no-reuse-delta', '-q']));
  addPack('ofs', packObjects(repo, ['--no-reuse-delta', '--delta-base-offset', '-q']));
  addPack('whole', packObjects(repo, ['--depth=0', '-q']));
  git(repo, ['repack', '-adf', '-q']);
  addPack('repacked', repackedFiles(repo).pack);
});

afterAll(() => {
  removeDir(repo);
  removeDir(work);
});

let fileCounter = 0;
async function runIndexPack(
  input: AsyncIterable<Buffer>,
  opts: Omit<IndexPackOptions, 'input' | 'output'> = {},
): Promise<IndexPackResult & { file: Buffer }> {
  const file = path.join(work, `out-${fileCounter++}.pack`);
  const output = await fs.promises.open(file, 'w+');
  try {
    const result = await indexPack({ input, output, ...opts });
    return { ...result, file: fs.readFileSync(file) };
  } finally {
    await output.close();
  }
}

function randomChunks(seed: number, max: number): () => number {
  const next = rng(seed);
  return () => 1 + (next() % max);
}

const lookupFromRepo = async (oid: Buffer) => objects.get(oid.toString('hex')) ?? null;

describe('indexPack on packs made by git', () => {
  it.each(['ref', 'ofs', 'whole', 'repacked'])('writes the same .idx as git index-pack (%s)', async (name) => {
    const { pack, idx, packPath } = packs[name]!;
    const result = await runIndexPack(chunked(pack, randomChunks(name.length, 70_000)));
    expect(result.idx.equals(idx)).toBe(true);
    expect(result.packChecksum.equals(pack.subarray(pack.length - 20))).toBe(true);
    expect(result.packSize).toBe(pack.length);
    expect(result.file.equals(pack)).toBe(true);
    expect(result.appendedBases).toBe(0);
    const lines = verifyPack(packPath);
    expect(result.objects.length).toBe(lines.length);
    const byOid = new Map(result.objects.map((o) => [o.oid.toString('hex'), o]));
    for (const line of lines) {
      expect(byOid.get(line.oid)?.type).toBe(line.type);
      expect(byOid.get(line.oid)?.offset).toBe(line.offset);
    }
    // Pack order is kept.
    const offsets = result.objects.map((o) => o.offset);
    expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
  });

  it.each(['ref', 'ofs', 'repacked'])(
    'hands a backed-up consumer exactly the types it asked for, each object once, and resolves the others meanwhile (%s)',
    async (name) => {
      const { pack, idx, packPath } = packs[name]!;
      const expected = verifyPack(packPath).filter((l) => l.type !== 'blob');
      const wanted = [OBJ_COMMIT, OBJ_TREE, OBJ_TAG];
      for (const backedUp of [true, false]) {
        const seen = new Map<string, number>();
        const result = await runIndexPack(chunked(pack, 65536), {
          onObjectTypes: wanted,
          onObject: (_i, oid, code, content) => {
            const hex = oid.toString('hex');
            expect(wanted).toContain(code);
            if (content) expect(hashObject(typeFromCode(code), content).toString('hex')).toBe(hex);
            seen.set(hex, (seen.get(hex) ?? 0) + 1);
            // a consumer whose queue is always full: each hand-over settles a little later
            if (backedUp) return new Promise<void>((resolve) => setTimeout(resolve, 0));
          },
        });
        expect(result.idx.equals(idx)).toBe(true);
        expect([...seen.keys()].sort()).toEqual(expected.map((l) => l.oid).sort());
        expect([...seen.values()].every((n) => n === 1)).toBe(true);
        if (backedUp && name !== 'ref') expect(result.resolvedOutOfTurn).toBeGreaterThan(0);
        if (!backedUp) expect(result.resolvedOutOfTurn).toBe(0);
      }
    },
  );

  it('uses fixtures that cover both delta kinds and objects above the synchronous inflate limit', async () => {
    const typeCodes = async (name: string) => {
      const { pack, idx, packPath } = packs[name]!;
      const reader = await PackFile.open(await fs.promises.open(packPath, 'r'), PackIndex.parse(idx));
      try {
        const codes = new Set<number>();
        for (const offset of reader.index.sortedOffsets()) codes.add((await reader.entryAt(offset)).typeCode);
        expect(pack.length).toBeGreaterThan(0);
        return codes;
      } finally {
        await reader.close();
      }
    };
    expect(await typeCodes('ref')).toContain(7);
    expect(await typeCodes('ofs')).toContain(6);
    expect(await typeCodes('repacked')).toContain(6);
    expect(await typeCodes('whole')).toEqual(new Set([1, 2, 3, 4]));
    expect(verifyPack(packs.whole!.packPath).some((l) => l.size > SYNC_INFLATE_LIMIT)).toBe(true);
  });

  it('handles one-byte chunks', async () => {
    const smallRepo = fixtureRepo({ commits: 3 });
    const small = packObjects(smallRepo, ['-q']);
    removeDir(smallRepo);
    const { idxPath } = gitIndexPack(work, 'small', small);
    const result = await runIndexPack(chunked(small, 1));
    expect(result.idx.equals(fs.readFileSync(idxPath))).toBe(true);
  });

  it('finds the end of zlib streams longer than any normal encoder writes', async () => {
    const content = Buffer.from('padded with empty stored blocks\n');
    const body = Buffer.concat([
      Buffer.from('PACK\0\0\0\x02\0\0\0\x02', 'latin1'),
      encodeEntryHeader(3, content.length),
      paddedZlib(content, 300),
      encodeEntryHeader(3, 5),
      zlib.deflateSync(Buffer.from('after')),
    ]);
    const pack = withTrailer(body);
    const { idxPath } = gitIndexPack(work, 'padded', pack);
    const result = await runIndexPack(chunked(pack, 100));
    expect(result.idx.equals(fs.readFileSync(idxPath))).toBe(true);
    expect(result.objects[0]!.oid.equals(hashObject('blob', content))).toBe(true);
  });

  it('indexes a pack larger than the scan window, fed in big and small chunks', async () => {
    // ~11 MiB of poorly compressible blobs between small objects: entries straddle window ends.
    const next = rng(4242);
    const entries: PackEntry[] = [];
    for (let i = 0; i < 9; i++) {
      const blob = Buffer.alloc(1_000_000 + i * 77_777);
      for (let k = 0; k < blob.length; k++) blob[k] = next() & 0xff;
      entries.push({ kind: 'object', type: 'blob', content: blob });
      entries.push({ kind: 'object', type: 'blob', content: Buffer.from(`small ${i}\n`) });
    }
    const pack = await collect(writePack(entries.length, entries, { level: 0 }));
    expect(pack.length).toBeGreaterThan(9 * 1024 * 1024);
    const { idxPath } = gitIndexPack(work, 'large', pack);
    const result = await runIndexPack(chunked(pack, randomChunks(7, 3 * 1024 * 1024)));
    expect(result.idx.equals(fs.readFileSync(idxPath))).toBe(true);
    expect(result.file.equals(pack)).toBe(true);
  });

  it('indexes an empty pack', async () => {
    const pack = await collect(writePack(0, []));
    const result = await runIndexPack(chunked(pack, 7));
    expect(result.objects).toEqual([]);
    expect(PackIndex.parse(result.idx).count).toBe(0);
  });

  it('works over the memory storage (memfs), and the result reads back through PackFile', async () => {
    const { Volume } = await import('memfs');
    const vol = new Volume();
    const output = (await vol.promises.open('/tmp_pack', 'w+')) as unknown as FileHandleLike;
    const { pack, idx } = packs.repacked!;
    const result = await indexPack({ input: chunked(pack, 65536), output });
    expect(result.idx.equals(idx)).toBe(true);
    expect((vol.readFileSync('/tmp_pack') as Buffer).equals(pack)).toBe(true);
    const reader = await PackFile.open(output, PackIndex.parse(result.idx));
    try {
      for (const o of result.objects) {
        const obj = await reader.read(o.oid);
        expect(obj!.content.equals(objects.get(o.oid.toString('hex'))!.content)).toBe(true);
      }
    } finally {
      await reader.close();
    }
  });
});

describe('indexPack on thin packs', () => {
  let thin: Buffer;
  beforeAll(() => {
    thin = git(repo, ['pack-objects', '--revs', '--thin', '--stdout', '-q'], 'main\n^main~4\n');
  });

  it('appends the missing bases, and git accepts the completed pack', async () => {
    const thinIndexed = await caught(() => runIndexPack(chunked(thin, 4096)));
    expect(thinIndexed.message).toMatch(/missing delta base [0-9a-f]{40}/); // it really is thin

    const result = await runIndexPack(chunked(thin, 4096), { lookupBase: lookupFromRepo });
    expect(result.appendedBases).toBeGreaterThan(0);
    expect(result.packSize).toBe(result.file.length);
    expect(result.file.readUInt32BE(8)).toBe(result.objects.length);
    const { packPath, idxPath } = gitIndexPack(work, 'completed', result.file);
    expect(result.idx.equals(fs.readFileSync(idxPath))).toBe(true);
    expect(result.packChecksum.equals(result.file.subarray(result.file.length - 20))).toBe(true);
    const lines = verifyPack(packPath);
    expect(lines.length).toBe(result.objects.length);
    for (const o of result.objects) {
      expect(objects.get(o.oid.toString('hex'))?.type).toBe(o.type);
    }
  });

  it('resolves a ref-delta whose base comes from a delta on an appended base, whatever the order', async () => {
    const x = Buffer.from('base known only to the receiver\n');
    const y = Buffer.from('base known');
    const z = Buffer.from('base');
    const yFromX = Buffer.from([x.length, y.length, 0x90, y.length]);
    const zFromY = Buffer.from([y.length, z.length, 0x90, z.length]);
    const refDelta = (base: Buffer, delta: Buffer): PackEntry => ({
      kind: 'ref-delta',
      baseOid: hashObject('blob', base),
      size: delta.length,
      compressed: zlib.deflateSync(delta),
    });
    // z's delta comes first: its base y is neither in the receiver nor whole in the pack.
    const pack = await collect(writePack(2, [refDelta(y, zFromY), refDelta(x, yFromX)]));
    const lookups: string[] = [];
    const result = await runIndexPack(chunked(pack, 64), {
      lookupBase: async (oid) => {
        lookups.push(oid.toString('hex'));
        return oid.equals(hashObject('blob', x)) ? { type: 'blob', content: x } : null;
      },
    });
    expect(result.appendedBases).toBe(1);
    expect(result.objects.map((o) => o.oid.toString('hex'))).toEqual([z, y, x].map((b) => hashObject('blob', b).toString('hex')));
    const { packPath } = gitIndexPack(work, 'chained-thin', result.file);
    expect(verifyPack(packPath).length).toBe(3);
    expect(lookups).toContain(hashObject('blob', x).toString('hex'));
  });

  it('fails when lookupBase does not know a base, or returns a different object', async () => {
    expect((await caught(() => runIndexPack(chunked(thin, 4096), { lookupBase: async () => null }))).code).toBe('BAD_PACK');
    const wrong = await caught(() =>
      runIndexPack(chunked(thin, 4096), { lookupBase: async () => ({ type: 'blob', content: Buffer.from('not it') }) }),
    );
    expect(wrong.code).toBe('CORRUPT_REPO');
  });
});

/** A zlib stream with `empties` empty stored blocks before the data: valid, but long. */
function paddedZlib(content: Buffer, empties: number): Buffer {
  const emptyBlock = Buffer.from([0x00, 0x00, 0x00, 0xff, 0xff]);
  let a = 1;
  let b = 0;
  for (const byte of content) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  const adler = Buffer.alloc(4);
  adler.writeUInt32BE(((b << 16) | a) >>> 0);
  return Buffer.concat([Buffer.from([0x78, 0x01]), ...Array(empties).fill(emptyBlock), zlib.deflateRawSync(content), adler]);
}

describe('indexPack rejects bad packs', () => {
  const blob = (text: string): Buffer => Buffer.concat([encodeEntryHeader(3, Buffer.byteLength(text)), zlib.deflateSync(Buffer.from(text))]);
  const header = (count: number, version = 2) => {
    const h = Buffer.from('PACK\0\0\0\0\0\0\0\0', 'latin1');
    h.writeUInt32BE(version, 4);
    h.writeUInt32BE(count, 8);
    return h;
  };
  const craft = (count: number, ...entries: Buffer[]) => withTrailer(Buffer.concat([header(count), ...entries]));

  async function rejects(pack: Buffer, message: RegExp, opts: Omit<IndexPackOptions, 'input' | 'output'> = {}) {
    const err = await caught(() => runIndexPack(chunked(pack, 1000), opts));
    expect(err.code, err.message).toBe('BAD_PACK');
    expect(err.message).toMatch(message);
  }

  it('rejects truncated streams at any point', async () => {
    const pack = packs.ref!.pack;
    const count = pack.readUInt32BE(8);
    await rejects(pack.subarray(0, 0), /truncated pack: stream ended after 0 bytes/);
    await rejects(pack.subarray(0, 7), /truncated pack: stream ended after 7 bytes/);
    await rejects(pack.subarray(0, 12), new RegExp(`truncated pack: expected ${count} objects`));
    await rejects(pack.subarray(0, 40), new RegExp(`truncated pack: expected ${count} objects, stream ended after 0`));
    for (const cut of [Math.floor(pack.length / 3), Math.floor(pack.length / 2), pack.length - 30]) {
      await rejects(pack.subarray(0, cut), new RegExp(`truncated pack: expected ${count} objects, stream ended after \\d+$`));
    }
    await rejects(pack.subarray(0, pack.length - 1), /truncated pack: stream ended inside the trailer/);
  });

  it('reports how many objects arrived before the stream ended', async () => {
    const pack = craft(5, blob('one'), blob('two'), blob('three'));
    await rejects(pack, /truncated pack: expected 5 objects, stream ended after 3$/);
  });

  it('rejects a wrong trailer, trailing garbage and corrupt data', async () => {
    const pack = packs.ofs!.pack;
    const wrongTrailer = Buffer.from(pack);
    wrongTrailer[wrongTrailer.length - 5] ^= 1;
    await rejects(wrongTrailer, /^Invalid pack: pack checksum mismatch$/);
    await rejects(Buffer.concat([pack, Buffer.from('garbage!')]), /trailing data after the pack trailer/);
    await rejects(Buffer.concat([pack, Buffer.alloc(100, 1)]), /trailing data after the pack trailer/);
    for (const at of [200, Math.floor(pack.length / 2), pack.length - 100]) {
      const flipped = Buffer.from(pack);
      flipped[at] ^= 0x10;
      await rejects(flipped, /./);
    }
  });

  it('rejects zlib data that is not zlib', async () => {
    const entry = Buffer.concat([encodeEntryHeader(3, 10), Buffer.from('this is not deflate data')]);
    await rejects(craft(1, entry), /blob at offset 12 .*bad zlib data/);
  });

  it('rejects bad headers', async () => {
    const good = craft(1, blob('x'));
    const sig = Buffer.from(good);
    sig[0] = 0x51;
    await rejects(sig, /bad signature/);
    await rejects(withTrailer(Buffer.concat([header(1, 4), blob('x')])), /unsupported pack version 4/);
    const v3 = await runIndexPack(chunked(withTrailer(Buffer.concat([header(1, 3), blob('x')])), 10));
    expect(v3.objects.length).toBe(1);
    await rejects(craft(1, Buffer.from([0x51]), zlib.deflateSync(Buffer.from('x'))), /unknown object type 5 at offset 12/);
    await rejects(craft(1, Buffer.from([0x01]), zlib.deflateSync(Buffer.from('x'))), /unknown object type 0 at offset 12/);
  });

  it('rejects sizes that do not match the data, including absurd ones', async () => {
    const data = zlib.deflateSync(Buffer.from('hello'));
    await rejects(craft(1, encodeEntryHeader(3, 4), data), /declared size 4\).*inflates to more than 4 bytes/);
    await rejects(craft(1, encodeEntryHeader(3, 6), data), /declared size 6\).*inflates to 5 bytes, not 6/);
    await rejects(craft(1, encodeEntryHeader(3, 2 ** 40), data), /declared size 1099511627776\).*inflates to 5 bytes/);
    await rejects(craft(1, encodeEntryHeader(3, 2 ** 40), Buffer.alloc(30)), /./);
  });

  it('rejects ofs-deltas pointing outside the pack, forward or into an object', async () => {
    const first = blob('base object content');
    const delta = zlib.deflateSync(Buffer.from([19, 3, 0x90, 3]));
    const ofs = (distance: Buffer) => Buffer.concat([encodeEntryHeader(6, 4), distance, delta]);
    await rejects(craft(2, first, ofs(encodeOfsDeltaOffset(5000))), /points before the start of the pack/);
    await rejects(craft(2, first, ofs(encodeOfsDeltaOffset(3))), /points to offset \d+, where no earlier object starts/);
    await rejects(craft(2, first, ofs(Buffer.from([0]))), /where no earlier object starts/);
    // A correct one is accepted: the base is entry 0 at offset 12.
    const ok = await runIndexPack(chunked(craft(2, first, ofs(encodeOfsDeltaOffset(12 + first.length - 12))), 5));
    expect(ok.objects[1]!.oid.equals(hashObject('blob', Buffer.from('bas')))).toBe(true);
  });

  it('rejects deltas whose base is missing or that do not apply', async () => {
    const base = Buffer.from('base object content');
    const refDelta = (baseOid: Buffer, delta: Buffer) =>
      Buffer.concat([encodeEntryHeader(7, delta.length), baseOid, zlib.deflateSync(delta)]);
    const unknown = Buffer.alloc(20, 0x42);
    await rejects(craft(1, refDelta(unknown, Buffer.from([19, 3, 0x90, 3]))), /missing delta base 4242/);
    const wrongBaseSize = refDelta(hashObject('blob', base), Buffer.from([18, 3, 0x90, 3]));
    await rejects(craft(2, blob(base.toString()), wrongBaseSize), /delta at offset \d+: delta expects a base of 18 bytes/);
    const outOfRange = refDelta(hashObject('blob', base), Buffer.from([19, 3, 0x91, 17, 3]));
    await rejects(craft(2, blob(base.toString()), outOfRange), /copies bytes 17\.\.20/);
  });

  it('rejects duplicate objects', async () => {
    await rejects(craft(2, blob('same'), blob('same')), new RegExp(`duplicate object ${hashObject('blob', Buffer.from('same')).toString('hex')}`));
  });

  it('enforces maxObjects and maxBytes, and stops reading at the byte limit', async () => {
    const pack = packs.ref!.pack;
    await rejects(pack, /announces \d+ objects, more than the limit of 10/, { maxObjects: 10 });
    let pulled = 0;
    let finished = false;
    async function* source() {
      try {
        for await (const chunk of chunked(pack, 1000)) {
          pulled++;
          yield chunk;
        }
      } finally {
        finished = true;
      }
    }
    const err = await caught(() => runIndexPack(source(), { maxBytes: 5000 }));
    expect(err.code).toBe('PACK_TOO_LARGE');
    expect(err.message).toMatch(/5000 bytes/);
    expect(pulled).toBe(6);
    expect(finished).toBe(true);
    const ok = await runIndexPack(chunked(pack, 1000), { maxBytes: pack.length });
    expect(ok.packSize).toBe(pack.length);
  });
});

describe('indexPack against writePack', () => {
  it('indexes what writePack writes, with ofs-deltas and ref-deltas', async () => {
    const base = Buffer.from('0123456789'.repeat(20));
    // copy 100 bytes from 0, copy 10 from 100, insert "tail"
    const delta = Buffer.from([0xc8, 0x01, 114, 0x90, 100, 0x91, 100, 10, 4, ...Buffer.from('tail')]);
    const result = Buffer.concat([base.subarray(0, 100), Buffer.from('0123456789tail')]);
    const entries: PackEntry[] = [
      { kind: 'object', type: 'blob', content: base },
      { kind: 'ofs-delta', baseIndex: 0, resultSize: delta.length, compressed: zlib.deflateSync(delta) },
      { kind: 'object', type: 'commit', content: Buffer.from('tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\nmsg\n') },
      // Against the delta's result (an in-pack ref base that is itself a delta): keep 14 bytes from 100.
      { kind: 'ref-delta', baseOid: hashObject('blob', result), size: 5, compressed: zlib.deflateSync(Buffer.from([114, 14, 0x91, 100, 14])) },
    ];
    const pack = await collect(writePack(entries.length, entries));
    const indexed = await runIndexPack(chunked(pack, 9));
    const { idxPath } = gitIndexPack(work, 'written', pack);
    expect(indexed.idx.equals(fs.readFileSync(idxPath))).toBe(true);
    expect(indexed.objects[1]!.oid.equals(hashObject('blob', result))).toBe(true);
    expect(indexed.objects[3]!.oid.equals(hashObject('blob', Buffer.from('0123456789tail')))).toBe(true);
    expect(indexed.objects.map((o) => o.type)).toEqual(['blob', 'blob', 'commit', 'blob']);
  });
});
