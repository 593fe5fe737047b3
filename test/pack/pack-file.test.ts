import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyDelta } from '../../src/pack/delta.js';
import type { FileHandleLike } from '../../src/pack/file-handle.js';
import { PackIndex, writePackIndex } from '../../src/pack/idx.js';
import { writePack } from '../../src/pack/pack-writer.js';
import { PackFile } from '../../src/pack/pack-file.js';
import { OBJ_OFS_DELTA, OBJ_REF_DELTA, type GitObject } from '../../src/pack/types.js';
import {
  allObjects,
  caught,
  collect,
  fixtureRepo,
  git,
  gitIndexPack,
  packObjects,
  removeDir,
  repackedFiles,
  tempDir,
  verifyPack,
} from './helpers.js';

let repo: string;
let work: string;
let objects: Map<string, GitObject>;
/** Pack files by kind: ofs-deltas (git repack -adf) and ref-deltas (pack-objects without --delta-base-offset). */
const packs: Record<'ofs' | 'ref', { packPath: string; idxPath: string }> = {} as never;

beforeAll(() => {
  repo = fixtureRepo({ bigBlob: true });
  work = tempDir();
  objects = allObjects(repo);
  git(repo, ['repack', '-adf', '-q']);
  const ofs = repackedFiles(repo);
  packs.ofs = { packPath: ofs.packPath, idxPath: ofs.packPath.replace(/\.pack$/, '.idx') };
  packs.ref = gitIndexPack(work, 'ref', packObjects(repo, ['--no-reuse-delta', '-q']));
});

afterAll(() => {
  removeDir(repo);
  removeDir(work);
});

type Opener = (file: string) => Promise<FileHandleLike>;

const nodeOpen: Opener = (file) => fs.promises.open(file, 'r');

/** Copies the file into a memfs volume and opens it there: the memory storage kind, as production does with --memory. */
const memoryOpen: Opener = async (file) => {
  const { Volume } = await import('memfs');
  const vol = new Volume();
  vol.writeFileSync('/p.pack', fs.readFileSync(file));
  return (await vol.promises.open('/p.pack', 'r')) as unknown as FileHandleLike;
};

async function openPack(kind: 'ofs' | 'ref', open: Opener = nodeOpen, cacheBytes?: number): Promise<PackFile> {
  const index = PackIndex.parse(fs.readFileSync(packs[kind].idxPath));
  return PackFile.open(await open(packs[kind].packPath), index, { cacheBytes });
}

describe.each([
  ['fs', nodeOpen],
  ['memory', memoryOpen],
] as const)('PackFile over %s', (_name, open) => {
  it.each(['ofs', 'ref'] as const)('reads every object of a %s-delta pack as git cat-file does', async (kind) => {
    const pack = await openPack(kind, open);
    try {
      const lines = verifyPack(packs[kind].packPath);
      expect(lines.length).toBe(objects.size);
      let deltas = 0;
      for (const line of lines) {
        const entry = await pack.entryAt(line.offset);
        if (entry.typeCode === (kind === 'ofs' ? OBJ_OFS_DELTA : OBJ_REF_DELTA)) deltas++;
        const expected = objects.get(line.oid)!;
        const actual = await pack.read(Buffer.from(line.oid, 'hex'));
        expect(actual?.type, line.oid).toBe(expected.type);
        expect(actual!.content.equals(expected.content), line.oid).toBe(true);
      }
      expect(deltas).toBeGreaterThan(20); // the pack really exercises the delta kind
    } finally {
      await pack.close();
    }
  });
});

describe('PackFile', () => {
  it('keeps a delta chain it resolves, and nothing (nor blocks) for a one-off read', async () => {
    const line = verifyPack(packs.ofs.packPath).find((l) => (l.depth ?? 0) >= 2)!;
    expect(line, 'a delta two or more deep').toBeDefined();
    const expected = objects.get(line.oid)!.content;
    const once = await openPack('ofs', nodeOpen, 1024 * 1024);
    const kept = await openPack('ofs', nodeOpen, 1024 * 1024);
    try {
      const cacheOf = (p: PackFile) => (p as unknown as { cache: { size: number; bytes: number } }).cache;
      const blocksOf = (p: PackFile) => (p as unknown as { blocks: { blocks: { size: number } } }).blocks.blocks;
      const blocksBefore = blocksOf(once).size; // PackFile.open read its header and trailer directly
      expect((await once.readAt(line.offset, false)).content.equals(expected)).toBe(true);
      expect(cacheOf(once).size).toBe(0);
      expect(blocksOf(once).size).toBe(blocksBefore);
      expect((await kept.readAt(line.offset)).content.equals(expected)).toBe(true);
      expect(cacheOf(kept).size).toBe(line.depth! + 1); // the base, the deltas in between, the object
      // the cached bases serve the next read of the same chain
      expect((await once.readAt(line.offset, false)).content.equals(expected)).toBe(true);
      expect((await kept.readAt(line.offset, false)).content.equals(expected)).toBe(true);
    } finally {
      await once.close();
      await kept.close();
    }
  });

  it('collects fully every 16 MiB of buffers made by one-off reads, and not for cached reads', async () => {
    const lowMemory = await import('../../src/pack/low-memory.js');
    const line = verifyPack(packs.ofs.packPath).filter((l) => (l.depth ?? 0) >= 1).sort((a, b) => objects.get(b.oid)!.content.length - objects.get(a.oid)!.content.length)[0]!;
    const size = objects.get(line.oid)!.content.length;
    expect(size, 'the big blob, as a delta').toBeGreaterThan(1024 * 1024);
    const reads = Math.ceil((32 * 1024 * 1024) / size); // the object alone: twice the threshold
    const pack = await openPack('ofs', nodeOpen, 64 * 1024 * 1024);
    try {
      const before = lowMemory.oneOffCollections;
      for (let i = 0; i < reads; i++) await pack.readAt(line.offset, false);
      expect(lowMemory.oneOffCollections - before).toBeGreaterThanOrEqual(2);
      const afterOneOff = lowMemory.oneOffCollections;
      for (let i = 0; i < reads; i++) await pack.readAt(line.offset);
      expect(lowMemory.oneOffCollections).toBe(afterOneOff);
    } finally {
      await pack.close();
    }
  });

  it('reads objects in any order with a tiny cache (no reliance on cached bases)', async () => {
    const pack = await openPack('ofs', nodeOpen, 1);
    try {
      const oids = [...objects.keys()].reverse();
      for (const oid of oids) {
        const obj = await pack.read(Buffer.from(oid, 'hex'));
        expect(obj!.content.equals(objects.get(oid)!.content)).toBe(true);
      }
    } finally {
      await pack.close();
    }
  });

  it.each(['ofs', 'ref'] as const)('readType reports type and size without applying deltas (%s)', async (kind) => {
    const pack = await openPack(kind);
    try {
      for (const [oid, obj] of objects) {
        expect(await pack.readType(Buffer.from(oid, 'hex'))).toEqual({ type: obj.type, size: obj.content.length });
      }
    } finally {
      await pack.close();
    }
  });

  it('answers has/read/readType for absent objects', async () => {
    const pack = await openPack('ofs');
    try {
      const absent = Buffer.alloc(20, 0xab);
      expect(pack.has(absent)).toBe(false);
      expect(await pack.read(absent)).toBeNull();
      expect(await pack.readType(absent)).toBeNull();
      const present = Buffer.from([...objects.keys()][0]!, 'hex');
      expect(pack.has(present)).toBe(true);
    } finally {
      await pack.close();
    }
  });

  it('describes entries as verify-pack does and returns their raw bytes', async () => {
    const pack = await openPack('ofs');
    const bytes = fs.readFileSync(packs.ofs.packPath);
    try {
      const lines = verifyPack(packs.ofs.packPath);
      const byOid = new Map(lines.map((l) => [l.oid, l]));
      for (const line of lines) {
        const entry = await pack.entryAt(line.offset);
        expect(entry.start).toBe(line.offset);
        expect(entry.end - entry.start).toBe(line.packedSize);
        const raw = await pack.rawEntry(line.offset);
        expect(raw.equals(bytes.subarray(line.offset, line.offset + line.packedSize))).toBe(true);
        const data = zlib.inflateSync(raw.subarray(entry.headerLength));
        expect(data.length).toBe(entry.size);
        if (line.base) {
          expect(entry.typeCode).toBe(OBJ_OFS_DELTA);
          expect(entry.baseOffset).toBe(byOid.get(line.base)!.offset);
          // The verbatim delta applied to the base gives the object.
          const result = applyDelta(objects.get(line.base)!.content, data);
          expect(result.equals(objects.get(line.oid)!.content)).toBe(true);
        } else {
          expect(entry.size).toBe(line.size);
          expect(entry.baseOffset).toBeUndefined();
        }
      }
    } finally {
      await pack.close();
    }
  });

  it('reports ref-delta bases by oid', async () => {
    const pack = await openPack('ref');
    try {
      const lines = verifyPack(packs.ref.packPath).filter((l) => l.base);
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) {
        const entry = await pack.entryAt(line.offset);
        expect(entry.typeCode).toBe(OBJ_REF_DELTA);
        expect(entry.baseOid?.toString('hex')).toBe(line.base);
      }
    } finally {
      await pack.close();
    }
  });

  it('serves many concurrent reads', async () => {
    const pack = await openPack('ref', nodeOpen, 64 * 1024);
    try {
      const oids = [...objects.keys()];
      const results = await Promise.all(oids.map((oid) => pack.read(Buffer.from(oid, 'hex'))));
      results.forEach((obj, i) => expect(obj!.content.equals(objects.get(oids[i]!)!.content)).toBe(true));
    } finally {
      await pack.close();
    }
  });

  it('reports a ref-delta whose base is not in the pack as CORRUPT_REPO', async () => {
    const delta = Buffer.from([3, 2, 0x90, 2]);
    const pack = await collect(
      writePack(1, [{ kind: 'ref-delta', baseOid: Buffer.alloc(20, 0x33), size: delta.length, compressed: zlib.deflateSync(delta) }]),
    );
    const file = path.join(work, 'thin.pack');
    fs.writeFileSync(file, pack);
    const fakeOid = Buffer.alloc(20, 0x44);
    const idx = writePackIndex([{ oid: fakeOid, offset: 12, crc: 0 }], pack.subarray(pack.length - 20));
    const reader = await PackFile.open(await fs.promises.open(file, 'r'), PackIndex.parse(idx));
    try {
      for (const attempt of [() => reader.read(fakeOid), () => reader.readType(fakeOid)]) {
        const err = await caught(attempt);
        expect(err.code).toBe('CORRUPT_REPO');
        expect(err.message).toMatch(/base 3333.* outside the pack/);
      }
    } finally {
      await reader.close();
    }
  });

  it('rejects offsets where no entry starts', async () => {
    const pack = await openPack('ofs');
    try {
      expect((await caught(() => pack.readAt(13))).code).toBe('CORRUPT_REPO');
      expect((await caught(() => pack.entryAt(5))).code).toBe('CORRUPT_REPO');
    } finally {
      await pack.close();
    }
  });
});

describe('PackFile on damaged packs', () => {
  function damagedCopy(edit: (pack: Buffer) => Buffer): string {
    const file = path.join(work, `damaged-${Math.random().toString(36).slice(2)}.pack`);
    fs.writeFileSync(file, edit(Buffer.from(fs.readFileSync(packs.ofs.packPath))));
    return file;
  }
  const index = () => PackIndex.parse(fs.readFileSync(packs.ofs.idxPath));

  it('refuses a pack whose trailer differs from the index', async () => {
    const file = damagedCopy((p) => {
      p[p.length - 1] ^= 1;
      return p;
    });
    const err = await caught(async () => PackFile.open(await fs.promises.open(file, 'r'), index()));
    expect(err.code).toBe('CORRUPT_REPO');
    expect(err.message).toMatch(/checksum/);
  });

  it('refuses a pack whose header count differs from the index', async () => {
    const file = damagedCopy((p) => {
      p.writeUInt32BE(p.readUInt32BE(8) + 1, 8);
      return p;
    });
    const err = await caught(async () => PackFile.open(await fs.promises.open(file, 'r'), index()));
    expect(err.message).toMatch(/holds \d+ objects but its index lists/);
  });

  it('reports CORRUPT_REPO when an object does not inflate', async () => {
    const lines = verifyPack(packs.ofs.packPath);
    const victim = lines.find((l) => !l.base && l.type === 'blob' && l.packedSize > 100)!;
    const file = damagedCopy((p) => {
      p[victim.offset + 40] ^= 0x55;
      return p;
    });
    const pack = await PackFile.open(await fs.promises.open(file, 'r'), index());
    try {
      const err = await caught(() => pack.read(Buffer.from(victim.oid, 'hex')));
      expect(err.code).toBe('CORRUPT_REPO');
    } finally {
      await pack.close();
    }
  });
});
