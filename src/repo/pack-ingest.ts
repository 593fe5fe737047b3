// Receiving a pack into a repository: spool + index it under temporary names, check every
// object (syntax and links), and only then rename .pack and .idx into place. Nothing is
// left behind when any step fails. A pack from a shallow client may hold its boundary commits
// without their parents: such a pack is checked but never installed, since every stored object
// must have its whole history stored (connectivity checks rely on it).
import { GitgateError } from '../errors.js';
import { indexPack } from '../pack/indexer.js';
import { PackFile } from '../pack/pack-file.js';
import { PackIndex } from '../pack/idx.js';
import { DEFAULT_FSCK_POLICY, formatFinding, fsckObject, fsckSpecialBlob, type Finding, type FsckPolicy, type SpecialBlobs } from './fsck/index.js';
import { referencedOids } from './objects/references.js';
import type { Repository } from './repository.js';

export interface IngestedPack {
  /** Base name (pack-<sha>) or null when the pack held no objects. */
  name: string | null;
  objectCount: number;
  /** True when the object is in this pack (used by connectivity checks of new tips). */
  contains(oid: string): boolean;
  /** Commits of `shallow` whose parents are missing here too; when any, nothing was installed. */
  grafted: string[];
}

export interface IngestOptions {
  maxBytes?: number;
  maxObjects?: number;
  /** The client's shallow commits (hex): these may arrive without their parents. */
  shallow?: ReadonlySet<string>;
  /** Severities and skip list for the object checks (receive.fsck.*); C Git's defaults otherwise. */
  fsck?: FsckPolicy;
  /** Each fsck report as receive-pack prints it: `warning: object <id>: <msgId>: <text>`, or
   *  `error: …` for the one that refuses the pack. */
  onReport?: (line: string) => void;
}

export async function ingestPack(repo: Repository, input: AsyncIterable<Buffer>, opts: IngestOptions = {}): Promise<IngestedPack> {
  const receiver = await repo.objects.inserter.newPack();
  const { handle } = receiver;
  let closed = false;
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
      return { name: null, objectCount: 0, contains, grafted: [] };
    }
    await handle.sync();
    const index = PackIndex.parse(result.idx);
    const pack = await PackFile.open(handle, index);
    closed = true; // the PackFile owns the handle now
    let grafted: string[];
    try {
      grafted = await verifyObjects(repo, pack, result.objects, oids, opts);
    } finally {
      await pack.close();
    }
    if (grafted.length) return { name: null, objectCount: result.objects.length, contains: () => false, grafted };
    const name = await receiver.install(result.idx, result.packChecksum);
    return { name, objectCount: result.objects.length, contains, grafted: [] };
  } finally {
    if (!closed) await handle.close().catch(() => undefined);
    await receiver.discard();
  }
}

/**
 * receive.fsckObjects plus links: every object referenced from the pack must exist, except the
 * parents of the client's shallow commits; returns those shallow commits whose parents are missing.
 */
async function verifyObjects(
  repo: Repository,
  pack: PackFile,
  objects: { oid: Buffer; type: string; offset: number }[],
  inPack: ReadonlySet<string>,
  opts: IngestOptions,
): Promise<string[]> {
  const shallow = opts.shallow ?? new Set<string>();
  const policy = opts.fsck ?? DEFAULT_FSCK_POLICY;
  const found: SpecialBlobs = { gitmodules: new Set(), gitattributes: new Set() };
  const knownPresent = new Set<string>(); // latin1 ids found outside the pack
  const grafted: string[] = [];
  for (const entry of objects) {
    if (entry.type === 'blob') continue; // blobs carry no links; the few that need a look come last
    const obj = await pack.readAt(entry.offset);
    let links = obj.type === 'tree' ? plainTreeLinks(obj.content, policy.maxPathnameLength) : null;
    if (links === null) {
      const hex = entry.oid.toString('hex');
      settle(hex, fsckObject(hex, obj.type, obj.content, policy, found), opts);
      links = referencedOids(obj.type, obj.content).map((r) => Buffer.from(r.oid, 'hex').toString('latin1'));
    }
    const oid = entry.oid.toString('hex');
    // a commit's links are its tree, then its parents
    const boundary = obj.type === 'commit' && shallow.has(oid);
    for (let i = 0; i < links.length; i++) {
      const key = links[i]!;
      if (inPack.has(key) || knownPresent.has(key)) continue;
      const hex = Buffer.from(key, 'latin1').toString('hex');
      if (!(await repo.objects.has(hex))) {
        if (boundary && i > 0) {
          if (grafted[grafted.length - 1] !== oid) grafted.push(oid);
          continue;
        }
        throw new GitgateError('BAD_PACK', { detail: `object ${oid} references missing object ${hex}` });
      }
      knownPresent.add(key);
    }
  }
  await checkSpecialBlobs(repo, pack, objects, found, policy, opts);
  return grafted;
}

/** fsck_finish: blobs that trees name .gitmodules or .gitattributes, in the pack or already stored. */
async function checkSpecialBlobs(
  repo: Repository,
  pack: PackFile,
  objects: { oid: Buffer; type: string; offset: number }[],
  found: SpecialBlobs,
  policy: FsckPolicy,
  opts: IngestOptions,
): Promise<void> {
  if (found.gitmodules.size === 0 && found.gitattributes.size === 0) return;
  const wanted = new Set([...found.gitmodules, ...found.gitattributes]);
  const packed = new Map<string, number>();
  for (const o of objects) if (wanted.has(o.oid.toString('hex'))) packed.set(o.oid.toString('hex'), o.offset);
  const check = async (kind: 'gitmodules' | 'gitattributes', hex: string) => {
    const at = packed.get(hex);
    const obj = at !== undefined ? await pack.readAt(at) : await repo.objects.read(hex);
    settle(hex, fsckSpecialBlob(kind, hex, obj?.type ?? null, obj?.content ?? null, policy), opts);
  };
  for (const hex of found.gitmodules) await check('gitmodules', hex);
  for (const hex of found.gitattributes) await check('gitattributes', hex);
}

/** Warnings go to the client; the first error refuses the pack. */
function settle(oid: string, findings: Finding[], opts: IngestOptions): void {
  for (const f of findings) {
    opts.onReport?.(`${f.outcome === 'error' ? 'error' : 'warning'}: ${formatFinding(oid, f)}`);
    if (f.outcome === 'error') throw new GitgateError('BAD_PACK', { detail: `object ${oid} is malformed: ${f.id}: ${f.message}` });
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
 * cannot be an alias of .git, .gitmodules, .mailmap and the like on any file system (no
 * leading '.', 'g' or 'G', no '~', '\\', '/'), no name longer than largePathname allows, no
 * null ids, strictly sorted, no name twice. Such a tree has no fsck finding at all, so its
 * links (latin1 ids, gitlinks skipped) are returned; anything else returns null and gets the
 * full check. Most pushed objects are trees, and this is several times faster.
 */
export function plainTreeLinks(buf: Buffer, maxNameLength = 4096): string[] | null {
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
    if (nul <= start || nul + 21 > buf.length || nul - start > maxNameLength) return null;
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
