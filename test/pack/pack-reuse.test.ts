// Whole-pack reuse: a stored pack's body copied as one run reproduces the pack byte for byte,
// and a run may be followed by ordinary entries without breaking the pack.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PackIndex } from '../../src/pack/idx.js';
import { PackFile } from '../../src/pack/pack-file.js';
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
