// Whole-pack reuse: a stored pack's body copied as one run reproduces the pack byte for byte,
// and a run may be followed by ordinary entries without breaking the pack.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PackIndex } from '../../src/pack/idx.js';
import { Bitset } from '../../src/pack/ewah.js';
import { PackFile } from '../../src/pack/pack-file.js';
import { PACK_HEADER_LENGTH } from '../../src/pack/pack-header.js';
import { PackReuse, type ReuseStats } from '../../src/pack/pack-reuse.js';
import { writePack } from '../../src/pack/pack-writer.js';
import { collect, fixtureRepo, git, gitIndexPack, repackedFiles, tempDir, verifyPack } from './helpers.js';

describe('writePack with copied runs', () => {
  it('reproduces a stored pack exactly from its body', async () => {
    const repo = fixtureRepo();
    git(repo, ['repack', '-adf', '-q']);
    const { pack, idx, packPath } = repackedFiles(repo);
    const index = PackIndex.parse(idx);
    const file = await PackFile.open(await fs.promises.open(packPath, 'r'), index);
    try {
      const out = await collect(writePack(index.count, [{ kind: 'raw-stream', chunks: file.bodyStream(1000), entries: index.count }]));
      expect(out.equals(pack)).toBe(true);
    } finally {
      await file.close();
    }
  });

  it('accepts whole objects after a run and refuses ofs-delta bases inside it', async () => {
    const repo = fixtureRepo();
    git(repo, ['repack', '-adf', '-q']);
    const { idx, packPath } = repackedFiles(repo);
    const index = PackIndex.parse(idx);
    const file = await PackFile.open(await fs.promises.open(packPath, 'r'), index);
    try {
      const out = await collect(
        writePack(index.count + 1, [
          { kind: 'raw-stream', chunks: file.bodyStream(), entries: index.count },
          { kind: 'object', type: 'blob', content: Buffer.from('one more blob\n') },
        ]),
      );
      const dir = tempDir();
      const { packPath: written } = gitIndexPack(dir, 'out', out);
      expect(verifyPack(written).length).toBe(index.count + 1);
      await expect(
        collect(
          writePack(index.count + 1, [
            { kind: 'raw-stream', chunks: file.bodyStream(), entries: index.count },
            { kind: 'ofs-delta', baseIndex: 1, resultSize: 1, compressed: Buffer.alloc(0) },
          ]),
        ),
      ).rejects.toThrow(/inside a copied run/);
      await expect(collect(writePack(index.count, [{ kind: 'raw-stream', chunks: file.bodyStream(), entries: index.count + 1 }]))).rejects.toThrow(/more than/);
    } finally {
      await file.close();
    }
  });
});

describe('PackReuse', () => {
  it('sends the same bytes whatever its read window and chunk sizes, and index-pack finds exactly the wanted objects', async () => {
    const repo = fixtureRepo({ bigBlob: true });
    git(repo, ['repack', '-adf', '-q']);
    const { idx, packPath } = repackedFiles(repo);
    const index = PackIndex.parse(idx);
    const file = await PackFile.open(await fs.promises.open(packPath, 'r'), index);
    try {
      // every third entry skipped: deltas on a skipped base wait and go whole, others get a new distance
      const offsets = index.sortedOffsets();
      const wanted = new Bitset(offsets.length);
      const wantedIds = new Set<string>();
      for (let p = 0; p < offsets.length; p++) {
        if (p % 3 === 1) continue;
        wanted.add(p);
        wantedIds.add(index.oidAtOffset(offsets[p]!)!.toString('hex'));
      }
      const run = async (sizes: { windowBytes?: number; chunkBytes?: number }) => {
        const stats: ReuseStats = { copied: 0, copiedDeltas: 0, inflated: 0 };
        const reuse = new PackReuse(file, wanted, sizes);
        return { bytes: await collect(reuse.entries(PACK_HEADER_LENGTH, stats)), stats, count: reuse.count };
      };
      const big = await run({});
      expect(big.stats.inflated).toBeGreaterThan(0);
      expect(big.stats.copiedDeltas).toBeGreaterThan(0);
      for (const sizes of [{ windowBytes: 1, chunkBytes: 1 }, { windowBytes: 64, chunkBytes: 7 }, { windowBytes: 5000, chunkBytes: 333 }]) {
        const small = await run(sizes);
        expect(small.stats).toEqual(big.stats);
        expect(small.bytes.equals(big.bytes)).toBe(true);
      }

      const reuse = new PackReuse(file, wanted, { windowBytes: 100, chunkBytes: 50 });
      const stats: ReuseStats = { copied: 0, copiedDeltas: 0, inflated: 0 };
      const out = await collect(writePack(reuse.count, [{ kind: 'raw-stream', chunks: reuse.entries(PACK_HEADER_LENGTH, stats), entries: reuse.count }]));
      const { packPath: written } = gitIndexPack(tempDir(), 'out', out);
      expect(new Set(verifyPack(written).map((l) => l.oid))).toEqual(wantedIds);
    } finally {
      await file.close();
    }
  });
});
