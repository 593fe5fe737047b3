// Receiving a pack into a repository: spool + index it under temporary names, check every
// object (syntax and links), and only then rename .pack and .idx into place. Nothing is
// left behind when any step fails.
import crypto from 'node:crypto';
import path from 'node:path';
import { GitgateError } from '../errors.js';
import { indexPack } from '../pack/indexer.js';
import { PackFile } from '../pack/pack-file.js';
import { PackIndex } from '../pack/idx.js';
import { checkGitmodules, gitmodulesBlobs } from './gitmodules.js';
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
    // binary ids as latin1 strings: half the size of hex, no encoding work per lookup
    const oids = new Set(result.objects.map((o) => o.oid.toString('latin1')));
    const contains = (oid: string) => oid.length === 40 && oids.has(Buffer.from(oid, 'hex').toString('latin1'));
    if (result.objects.length === 0) {
      return { name: null, objectCount: 0, contains };
    }
    await handle.sync();
    const index = PackIndex.parse(result.idx);
    const pack = await PackFile.open(handle, index);
    closed = true; // the PackFile owns the handle now
    try {
      await verifyObjects(repo, pack, result.objects, oids);
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
  inPack: ReadonlySet<string>,
): Promise<void> {
  const knownPresent = new Set<string>(); // latin1 ids found outside the pack
  const gitmodules = new Set<string>(); // blobs some tree names .gitmodules: checked once all links are known
  for (const entry of objects) {
    if (entry.type === 'blob') continue; // blobs carry no syntax and no links
    const obj = await pack.readAt(entry.offset);
    let links = obj.type === 'tree' ? plainTreeLinks(obj.content) : null;
    if (links === null) {
      const problem = checkObject(obj.type, obj.content);
      if (problem) throw new GitgateError('BAD_PACK', { detail: `object ${entry.oid.toString('hex')} is malformed: ${problem}` });
      links = referencedOids(obj.type, obj.content).map((r) => Buffer.from(r.oid, 'hex').toString('latin1'));
      if (obj.type === 'tree') for (const oid of gitmodulesBlobs(obj.content)) gitmodules.add(oid);
    }
    for (const key of links) {
      if (inPack.has(key) || knownPresent.has(key)) continue;
      const hex = Buffer.from(key, 'latin1').toString('hex');
      if (!(await repo.objects.has(hex))) {
        throw new GitgateError('BAD_PACK', { detail: `object ${entry.oid.toString('hex')} references missing object ${hex}` });
      }
      knownPresent.add(key);
    }
  }
  // fsck_finish: every .gitmodules blob, in the pack or already stored, must pass the submodule checks
  for (const oid of gitmodules) {
    const blob = (await pack.read(Buffer.from(oid, 'hex'))) ?? (await repo.objects.read(oid));
    if (!blob) continue; // a missing link was refused above
    const problem = blob.type === 'blob' ? checkGitmodules(blob.content) : 'gitmodulesBlob: non-blob found at .gitmodules';
    if (problem) throw new GitgateError('BAD_PACK', { detail: `object ${oid} is malformed: ${problem}` });
  }
}

const TREE_MODES = new Map<string, 'file' | 'dir' | 'gitlink'>([
  ['100644', 'file'],
  ['100755', 'file'],
  ['120000', 'file'],
  ['40000', 'dir'],
  ['160000', 'gitlink'],
]);

/**
 * Fast path of the tree check for the usual tree: canonical modes, plain ASCII names that
 * cannot be an alias of .git or .gitmodules on any file system (no leading '.', 'g' or 'G',
 * no '~', '\\', '/'), no null ids, strictly sorted, no name twice. Such a tree passes
 * checkObject, so its links (latin1 ids, gitlinks skipped) are returned; anything else returns
 * null and gets the full check. Most pushed objects are trees, and this is several times faster.
 */
export function plainTreeLinks(buf: Buffer): string[] | null {
  const links: string[] = [];
  if (buf.length > 0 && (buf.length < 23 || buf[buf.length - 21] !== 0)) return null;
  let prevStart = -1;
  let prevEnd = -1;
  let prevDir = false;
  const names = new Set<string>();
  for (let pos = 0; pos < buf.length; ) {
    const space = buf.indexOf(0x20, pos);
    if (space <= pos) return null;
    const kind = TREE_MODES.get(buf.toString('latin1', pos, space));
    if (kind === undefined) return null;
    const start = space + 1;
    const nul = buf.indexOf(0, start);
    if (nul <= start || nul + 21 > buf.length) return null;
    const first = buf[start]!;
    if (first === 0x2e || first === 0x67 || first === 0x47) return null; // '.', 'g', 'G'
    for (let i = start; i < nul; i++) {
      const c = buf[i]!;
      if (c >= 0x80 || c === 0x2f || c === 0x5c || c === 0x7e) return null; // non-ASCII, '/', '\\', '~'
    }
    let zero = true;
    for (let i = nul + 1; i < nul + 21; i++) if (buf[i] !== 0) zero = false;
    if (zero) return null;
    const dir = kind === 'dir';
    if (prevStart >= 0 && compareEntries(buf, prevStart, prevEnd, prevDir, start, nul, dir) >= 0) return null;
    // a name as a file and as a directory sorts fine ('a' < 'a-b' < 'a/') but is a duplicate entry
    const name = buf.toString('latin1', start, nul);
    if (names.has(name)) return null;
    names.add(name);
    if (kind !== 'gitlink') links.push(buf.toString('latin1', nul + 1, nul + 21));
    prevStart = start;
    prevEnd = nul;
    prevDir = dir;
    pos = nul + 21;
  }
  return links;
}

/** Git's tree order (base_name_compare): bytes, with a directory's name followed by '/'. */
function compareEntries(buf: Buffer, aStart: number, aEnd: number, aDir: boolean, bStart: number, bEnd: number, bDir: boolean): number {
  const aLen = aEnd - aStart;
  const bLen = bEnd - bStart;
  const len = Math.min(aLen, bLen);
  const cmp = buf.compare(buf, bStart, bStart + len, aStart, aStart + len);
  if (cmp !== 0) return cmp;
  const ca = aLen > len ? buf[aStart + len]! : aDir ? 0x2f : 0;
  const cb = bLen > len ? buf[bStart + len]! : bDir ? 0x2f : 0;
  return ca - cb;
}
