// Push verification happens while the indexer holds each object's bytes: objects inflated in
// the scan, objects that come out of deltas, and objects too large to hold (read back at the
// end) all get the fsck check and the link check; a refused pack leaves nothing installed.
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeEntryHeader, encodeOfsDeltaOffset } from '../../src/pack/entry-header.js';
import { SYNC_INFLATE_LIMIT } from '../../src/pack/inflate.js';
import { writePack, type PackEntry } from '../../src/pack/pack-writer.js';
import { OBJ_OFS_DELTA, hashObject } from '../../src/pack/types.js';
import { initBareRepo } from '../../src/repo/init.js';
import { checkThreadStarts, setCheckThreadMinBytes } from '../../src/repo/check-thread.js';
import { ingestPack } from '../../src/repo/pack-ingest.js';
import { Repository } from '../../src/repo/repository.js';
import { makeStorage, type TestStorage } from './helpers.js';

async function packOf(entries: PackEntry[]): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of writePack(entries.length, entries)) parts.push(chunk);
  return Buffer.concat(parts);
}

async function* once(buf: Buffer): AsyncGenerator<Buffer> {
  yield buf;
}

/** A tree of `n` files, sorted, each naming `blob`; larger than SYNC_INFLATE_LIMIT for n ≳ 130k. */
function bigTree(n: number, blob: Buffer, swap = false): Buffer {
  const names = Array.from({ length: n }, (_, i) => `file-${String(i).padStart(7, '0')}`);
  if (swap) [names[10], names[11]] = [names[11]!, names[10]!];
  return Buffer.concat(names.map((name) => Buffer.concat([Buffer.from(`100644 ${name}\0`), blob])));
}

/** An ofs-delta that turns `base` into `target` by copying base's first `keep` bytes and inserting the rest. */
function deltaEntry(base: Buffer, target: Buffer, keep: number, distance: number): Buffer {
  const varint = (n: number) => {
    const out: number[] = [];
    do {
      let b = n & 0x7f;
      n = Math.floor(n / 128);
      if (n > 0) b |= 0x80;
      out.push(b);
    } while (n > 0);
    return out;
  };
  const ops: number[] = [...varint(base.length), ...varint(target.length)];
  ops.push(0x80 | 0x10 | 0x20, keep & 0xff, (keep >> 8) & 0xff); // copy offset 0, size keep
  for (let at = keep; at < target.length; at += 127) {
    const piece = target.subarray(at, Math.min(at + 127, target.length));
    ops.push(piece.length, ...piece);
  }
  const delta = Buffer.from(ops);
  return Buffer.concat([encodeEntryHeader(OBJ_OFS_DELTA, delta.length), encodeOfsDeltaOffset(distance), zlib.deflateSync(delta)]);
}

describe.each([
  ['on the request thread', undefined],
  ['in a check thread', 0],
] as const)('push verification inside the indexer, %s', (_where, threadFrom) => {
  let ts: TestStorage;
  let repo: Repository;

  beforeEach(async () => {
    setCheckThreadMinBytes(threadFrom);
    ts = makeStorage('memory');
    const gitdir = `${ts.storage.root}/r.git`;
    await initBareRepo(ts.storage, gitdir, 'main');
    repo = new Repository(ts.storage, 'r', gitdir, { maintenance: { enabled: false } });
  });
  afterEach(async () => {
    setCheckThreadMinBytes();
    await repo.close();
    ts.cleanup();
  });

  const packsInstalled = async () => (await ts.storage.readdir(repo.packDir)).filter((f) => f.endsWith('.pack')).length;

  it('checks a tree too large to hold while indexing: its links and its syntax', async () => {
    const blob = Buffer.from('content\n');
    const blobId = hashObject('blob', blob);
    const tree = bigTree(150_000, blobId);
    expect(tree.length).toBeGreaterThan(SYNC_INFLATE_LIMIT);
    const treeId = hashObject('tree', tree).toString('hex');

    // the blob is missing: refused, naming the big tree
    const missing = await packOf([{ kind: 'object', type: 'tree', content: tree }]);
    await expect(ingestPack(repo, once(missing))).rejects.toThrow(`object ${treeId} references missing object ${blobId.toString('hex')}`);
    // out of order: refused by fsck
    const unsorted = await packOf([
      { kind: 'object', type: 'blob', content: blob },
      { kind: 'object', type: 'tree', content: bigTree(150_000, blobId, true) },
    ]);
    await expect(ingestPack(repo, once(unsorted))).rejects.toThrow(/treeNotSorted/);
    expect(await packsInstalled()).toBe(0);

    const good = await packOf([
      { kind: 'object', type: 'blob', content: blob },
      { kind: 'object', type: 'tree', content: tree },
    ]);
    const ok = await ingestPack(repo, once(good));
    expect(ok.name).not.toBeNull();
    expect(ok.contains(treeId)).toBe(true);
    expect(await packsInstalled()).toBe(1);
  });

  it('checks objects that come out of deltas: links and syntax', async () => {
    const tree = Buffer.alloc(0);
    const treeId = hashObject('tree', tree).toString('hex');
    const commit = (parent: string, msg: string) =>
      Buffer.from(`tree ${treeId}\n${parent ? `parent ${parent}\n` : ''}author A <a@b> 1700000000 +0000\ncommitter A <a@b> 1700000000 +0000\n\n${msg}\n`);
    const root = commit('', 'root');
    const rootId = hashObject('commit', root).toString('hex');
    const absent = crypto.randomBytes(20).toString('hex');

    const build = async (target: Buffer): Promise<Buffer> => {
      const head = await packOf([
        { kind: 'object', type: 'tree', content: tree },
        { kind: 'object', type: 'commit', content: root },
      ]);
      // the commit entry starts right after the tree's; the delta follows the commit's entry
      const body = head.subarray(12, head.length - 20);
      const treeEntryLength = encodeEntryHeader(2, 0).length + zlib.deflateSync(tree, { level: 1 }).length;
      const commitAt = 12 + treeEntryLength;
      const deltaAt = 12 + body.length;
      const withDelta = Buffer.concat([head.subarray(0, 8), Buffer.from([0, 0, 0, 3]), body, deltaEntry(root, target, 45, deltaAt - commitAt)]);
      return Buffer.concat([withDelta, crypto.createHash('sha1').update(withDelta).digest()]);
    };

    const dangling = commit(absent, 'child');
    const danglingId = hashObject('commit', dangling).toString('hex');
    await expect(ingestPack(repo, once(await build(dangling)))).rejects.toThrow(`object ${danglingId} references missing object ${absent}`);
    const malformed = Buffer.from(commit(rootId, 'child').toString('latin1').replace('author A <a@b>', 'author A a@b>'), 'latin1');
    await expect(ingestPack(repo, once(await build(malformed)))).rejects.toThrow(/is malformed/);
    expect(await packsInstalled()).toBe(0);

    const child = commit(rootId, 'child');
    const started = checkThreadStarts.count;
    const ok = await ingestPack(repo, once(await build(child)));
    expect(checkThreadStarts.count - started).toBe(threadFrom === 0 ? 1 : 0);
    expect(ok.objectCount).toBe(3);
    expect(ok.contains(hashObject('commit', child).toString('hex'))).toBe(true);
  });
});
