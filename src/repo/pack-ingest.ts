// Receiving a pack into a repository: spool + index it under temporary names, check every
// object (syntax and links), and only then rename .pack and .idx into place. Nothing is
// left behind when any step fails.
import crypto from 'node:crypto';
import path from 'node:path';
import { GitgateError } from '../errors.js';
import { indexPack } from '../pack/indexer.js';
import { PackFile } from '../pack/pack-file.js';
import { PackIndex } from '../pack/idx.js';
import { checkObject, referencedOids } from './objects.js';
import type { Repository } from './repository.js';

export interface IngestedPack {
  /** Base name (pack-<sha>) or null when the pack held no objects. */
  name: string | null;
  objectCount: number;
  /** True when the object is in this pack (used by connectivity checks of new tips). */
  contains(oid: string): boolean;
}

export interface IngestOptions {
  maxBytes?: number;
  maxObjects?: number;
}

export async function ingestPack(repo: Repository, input: AsyncIterable<Buffer>, opts: IngestOptions = {}): Promise<IngestedPack> {
  const { storage } = repo;
  const dir = repo.objects.packDir;
  await storage.mkdir(dir);
  const tag = `${process.pid}-${crypto.randomBytes(6).toString('hex')}`;
  const tmpPack = path.join(dir, `tmp_pack_${tag}`);
  const tmpIdx = path.join(dir, `tmp_idx_${tag}`);
  const handle = await storage.open(tmpPack, 'wx+');
  let closed = false;
  let installed = false;
  try {
    const result = await indexPack({
      input,
      output: handle,
      maxBytes: opts.maxBytes,
      maxObjects: opts.maxObjects,
      lookupBase: async (oid) => repo.objects.read(oid.toString('hex')),
    });
    const oids = new Set(result.objects.map((o) => o.oid.toString('hex')));
    const contains = (oid: string) => oids.has(oid);
    if (result.objects.length === 0) {
      return { name: null, objectCount: 0, contains };
    }
    await handle.sync();
    const index = PackIndex.parse(result.idx);
    const pack = await PackFile.open(handle, index);
    closed = true; // the PackFile owns the handle now
    try {
      await verifyObjects(repo, pack, result.objects, contains);
    } finally {
      await pack.close();
    }
    await storage.writeFileAtomic(tmpIdx, result.idx);
    const name = `pack-${result.packChecksum.toString('hex')}`;
    // Pack first, index last: readers discover packs through their .idx.
    await storage.rename(tmpPack, path.join(dir, `${name}.pack`));
    await storage.rename(tmpIdx, path.join(dir, `${name}.idx`));
    await storage.syncDir(dir);
    installed = true;
    await repo.objects.addPack(name);
    return { name, objectCount: result.objects.length, contains };
  } finally {
    if (!closed) await handle.close().catch(() => undefined);
    if (!installed) {
      await storage.unlink(tmpPack);
      await storage.unlink(tmpIdx);
    }
  }
}

/** receive.fsckObjects plus links: every object referenced from the pack must exist. */
async function verifyObjects(
  repo: Repository,
  pack: PackFile,
  objects: { oid: Buffer; type: string; offset: number }[],
  contains: (oid: string) => boolean,
): Promise<void> {
  const knownPresent = new Set<string>();
  for (const entry of objects) {
    if (entry.type === 'blob') continue; // blobs carry no syntax and no links
    const obj = await pack.readAt(entry.offset);
    const hex = entry.oid.toString('hex');
    const problem = checkObject(obj.type, obj.content);
    if (problem) throw new GitgateError('BAD_PACK', { detail: `object ${hex} is malformed: ${problem}` });
    for (const ref of referencedOids(obj.type, obj.content)) {
      if (contains(ref.oid) || knownPresent.has(ref.oid)) continue;
      if (!(await repo.objects.has(ref.oid))) {
        throw new GitgateError('BAD_PACK', { detail: `object ${hex} references missing object ${ref.oid}` });
      }
      knownPresent.add(ref.oid);
    }
  }
}
