import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PackIndex } from '../../src/pack/idx.js';
import { PackFile } from '../../src/pack/pack-file.js';
import { writePack, type PackEntry } from '../../src/pack/pack-writer.js';
import { OBJ_OFS_DELTA, OBJ_REF_DELTA, type GitObject } from '../../src/pack/types.js';
import { allObjects, caught, collect, fixtureRepo, git, gitText, removeDir, repackedFiles, tempDir, verifyPack } from './helpers.js';

let repo: string;
let work: string;
let objects: Map<string, GitObject>;
let sourcePackPath: string;

beforeAll(() => {
  repo = fixtureRepo();
  work = tempDir();
  objects = allObjects(repo);
  git(repo, ['repack', '-adf', '-q']);
  sourcePackPath = repackedFiles(repo).packPath;
});

afterAll(() => {
  removeDir(repo);
  removeDir(work);
});

/** Feeds a pack to `git index-pack --stdin` in a new bare repository, verifies it, and returns the repo. */
function receive(pack: Buffer, extraArgs: string[] = [], initFrom?: string): string {
  const target = fs.mkdtempSync(path.join(work, 'recv-'));
  if (initFrom) git(work, ['clone', '-q', '--bare', initFrom, target]);
  else git(target, ['init', '-q', '--bare']);
  git(target, ['index-pack', '--stdin', ...extraArgs], pack);
  const packDir = path.join(target, 'objects/pack');
  for (const f of fs.readdirSync(packDir).filter((f) => f.endsWith('.pack'))) verifyPack(path.join(packDir, f));
  return target;
}

function expectAllObjectsIn(target: string, oids: Iterable<string>) {
  for (const oid of oids) {
    const expected = objects.get(oid)!;
    expect(gitText(target, ['cat-file', '-t', oid]).trim()).toBe(expected.type);
    expect(git(target, ['cat-file', expected.type, oid]).equals(expected.content)).toBe(true);
  }
}

describe('writePack', () => {
  it('writes whole objects that git index-pack and verify-pack accept', async () => {
    const entries: PackEntry[] = [...objects.values()].map((o) => ({ kind: 'object', type: o.type, content: o.content }));
    const chunks: Buffer[] = [];
    for await (const chunk of writePack(entries.length, entries)) chunks.push(chunk);
    expect(chunks[0]!.length).toBe(12); // header first, on its own
    expect(chunks[chunks.length - 1]!.length).toBe(20); // trailer last
    expect(chunks.length).toBeGreaterThan(entries.length / 2); // streamed, not one blob
    const target = receive(Buffer.concat(chunks));
    expectAllObjectsIn(target, objects.keys());
  });

  it('accepts async iterables and honours the zlib level', async () => {
    async function* gen() {
      for (const o of objects.values()) yield { kind: 'object', type: o.type, content: o.content } as PackEntry;
    }
    const fast = await collect(writePack(objects.size, gen(), { level: 1 }));
    const small = await collect(writePack(objects.size, gen(), { level: 9 }));
    expect(small.length).toBeLessThan(fast.length);
    expectAllObjectsIn(receive(small), objects.keys());
  });

  it('copies raw entries and ofs-deltas verbatim, recomputing ofs distances', async () => {
    const index = PackIndex.parse(fs.readFileSync(sourcePackPath.replace(/\.pack$/, '.idx')));
    const source = await PackFile.open(await fs.promises.open(sourcePackPath, 'r'), index);
    try {
      // Put a few whole objects first so every distance changes, then the source pack in order.
      const lines = verifyPack(sourcePackPath).sort((a, b) => a.offset - b.offset);
      const entries: PackEntry[] = [1, 2, 3].map((n) => ({ kind: 'object', type: 'blob', content: Buffer.from(`extra ${n}\n`.repeat(n * 50)) }));
      const entryNumberByOffset = new Map<number, number>();
      let deltas = 0;
      for (const line of lines) {
        const info = await source.entryAt(line.offset);
        entryNumberByOffset.set(line.offset, entries.length);
        const raw = await source.rawEntry(line.offset);
        if (info.typeCode === OBJ_OFS_DELTA) {
          deltas++;
          entries.push({
            kind: 'ofs-delta',
            baseIndex: entryNumberByOffset.get(info.baseOffset!)!,
            resultSize: info.size,
            compressed: raw.subarray(info.headerLength),
          });
        } else {
          entries.push({ kind: 'raw', bytes: raw });
        }
      }
      expect(deltas).toBeGreaterThan(10);
      const pack = await collect(writePack(entries.length, entries));
      const target = receive(pack);
      expectAllObjectsIn(target, objects.keys());
      // The deltas survived as deltas.
      const packDir = path.join(target, 'objects/pack');
      const written = verifyPack(path.join(packDir, fs.readdirSync(packDir).find((f) => f.endsWith('.pack'))!));
      expect(written.filter((l) => l.base).length).toBe(deltas);
    } finally {
      await source.close();
    }
  });

  it('writes ref-deltas for a thin pack that git completes with --fix-thin', async () => {
    // Base: the first version of a.txt; the pack holds only a delta against it.
    const base = Buffer.from('line one\nline two\nline three\n');
    const result = Buffer.from('line one\nline 2\nline three\n');
    const baseRepo = fs.mkdtempSync(path.join(work, 'base-'));
    git(baseRepo, ['init', '-q']);
    const baseOid = git(baseRepo, ['hash-object', '-w', '--stdin'], base).toString().trim();
    // copy "line one\n" (9 bytes), insert "line 2\n", copy "line three\n" from offset 18
    const delta = Buffer.from([base.length, result.length, 0x90, 9, 7, ...Buffer.from('line 2\n'), 0x91, 18, 11]);
    const pack = await collect(
      writePack(1, [{ kind: 'ref-delta', baseOid: Buffer.from(baseOid, 'hex'), size: delta.length, compressed: zlib.deflateSync(delta) }]),
    );
    const target = fs.mkdtempSync(path.join(work, 'thin-'));
    git(target, ['init', '-q', '--bare']);
    fs.writeFileSync(path.join(target, 'objects/info/alternates'), path.join(baseRepo, '.git/objects') + '\n');
    git(target, ['index-pack', '--stdin', '--fix-thin'], pack);
    const oid = git(baseRepo, ['hash-object', '--stdin'], result).toString().trim();
    expect(git(target, ['cat-file', 'blob', oid]).equals(result)).toBe(true);
    const entryType = (pack[12]! >> 4) & 7;
    expect(entryType).toBe(OBJ_REF_DELTA);
  });

  it('writes an empty pack git accepts', async () => {
    const pack = await collect(writePack(0, []));
    expect(pack.length).toBe(32);
    receive(pack);
  });

  it('throws when the entry count differs from the announced count', async () => {
    const entry: PackEntry = { kind: 'object', type: 'blob', content: Buffer.from('x') };
    expect((await caught(() => collect(writePack(2, [entry])))).message).toMatch(/2 entries announced but 1 written/);
    expect((await caught(() => collect(writePack(1, [entry, entry])))).message).toMatch(/more than the 1 entries/);
  });

  it('rejects bad entries', async () => {
    const delta: PackEntry = { kind: 'ofs-delta', baseIndex: 0, resultSize: 1, compressed: zlib.deflateSync(Buffer.from([1])) };
    expect((await caught(() => collect(writePack(1, [delta])))).message).toMatch(/not an earlier entry/);
    const rawDelta: PackEntry = { kind: 'raw', bytes: Buffer.from([0x60 | 1, 1, 0]) };
    expect((await caught(() => collect(writePack(1, [rawDelta])))).message).toMatch(/non-delta/);
  });
});
