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
import { OidSet } from './oid-set.js';
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
    // raw ids in one buffer: links are looked up straight from the objects' bytes (400k objects
    // and tens of millions of tree entries for git.git: no string per id, no Set entry per object)
    const oids = new OidSet(result.objects.length);
    for (const o of result.objects) oids.add(o.oid);
    const contains = (oid: string) => oids.hasHex(oid);
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
  inPack: OidSet,
  opts: IngestOptions,
): Promise<string[]> {
  const shallow = opts.shallow ?? new Set<string>();
  const policy = opts.fsck ?? DEFAULT_FSCK_POLICY;
  const found: SpecialBlobs = { gitmodules: new Set(), gitattributes: new Set() };
  const knownPresent = new OidSet(); // ids found outside the pack
  const grafted: string[] = [];
  for (const entry of objects) {
    if (entry.type === 'blob') continue; // blobs carry no links; the few that need a look come last
    const obj = await pack.readAt(entry.offset);
    // links as 20-byte ids at offsets of `bytes`: the tree itself, or the ids of the slow path
    let bytes = obj.content;
    let links = obj.type === 'tree' ? plainTreeLinks(obj.content, policy.maxPathnameLength) : null;
    if (links === null) {
      const hex = entry.oid.toString('hex');
      settle(hex, fsckObject(hex, obj.type, obj.content, policy, found), opts);
      links = obj.type === 'tree' ? treeLinks(obj.content) : null;
      if (links === null) {
        const refs = referencedOids(obj.type, obj.content);
        bytes = Buffer.allocUnsafe(20 * refs.length);
        links = refs.map((r, i) => (bytes.write(r.oid, 20 * i, 'hex'), 20 * i));
      }
    }
    // a commit's links are its tree, then its parents
    const boundary = obj.type === 'commit' && shallow.size > 0 && shallow.has(entry.oid.toString('hex'));
    for (let i = 0; i < links.length; i++) {
      const at = links[i]!;
      if (inPack.has(bytes, at) || knownPresent.has(bytes, at)) continue;
      const hex = bytes.toString('hex', at, at + 20);
      if (!(await repo.objects.has(hex))) {
        const oid = entry.oid.toString('hex');
        if (boundary && i > 0) {
          if (grafted[grafted.length - 1] !== oid) grafted.push(oid);
          continue;
        }
        throw new GitgateError('BAD_PACK', { detail: `object ${oid} references missing object ${hex}` });
      }
      knownPresent.add(bytes, at);
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

const FILE = 1;
const DIR = 2;
const GITLINK = 3;

/** The kind of a canonical tree mode at buf[pos, end): 100644, 100755, 120000, 40000, 160000; 0 for any other. */
function modeKind(buf: Buffer, pos: number, end: number): number {
  const n = end - pos;
  if (n === 5) return buf[pos] === 0x34 && buf[pos + 1] === 0x30 && buf[pos + 2] === 0x30 && buf[pos + 3] === 0x30 && buf[pos + 4] === 0x30 ? DIR : 0;
  if (n !== 6 || buf[pos] !== 0x31) return 0;
  const b1 = buf[pos + 1];
  const b2 = buf[pos + 2];
  const r = (buf[pos + 3]! << 16) | (buf[pos + 4]! << 8) | buf[pos + 5]!;
  const ZEROS = 0x303030;
  if (b1 === 0x30 && b2 === 0x30) return r === 0x363434 || r === 0x373535 ? FILE : 0; // 100644, 100755
  if (b1 === 0x32 && b2 === 0x30) return r === ZEROS ? FILE : 0; // 120000
  if (b1 === 0x36 && b2 === 0x30) return r === ZEROS ? GITLINK : 0; // 160000
  return 0;
}

/**
 * Fast path of the tree check for the usual tree: canonical modes, plain ASCII names that
 * cannot be an alias of .git, .gitmodules, .mailmap and the like on any file system (no
 * leading '.', no '~', '\\', '/'), no name longer than largePathname allows, no
 * null ids, strictly sorted, no name twice. Such a tree has no fsck finding at all, so the
 * offsets of its links (ids in `buf`, gitlinks skipped) are returned; anything else returns
 * null and gets the full check. Most pushed objects are trees, and this is several times
 * faster; it makes no string per entry.
 */
export function plainTreeLinks(buf: Buffer, maxNameLength = 4096): number[] | null {
  const links: number[] = [];
  if (buf.length > 0 && (buf.length < 23 || buf[buf.length - 21] !== 0)) return null;
  const starts: number[] = [];
  const ends: number[] = [];
  const dirs: boolean[] = [];
  for (let pos = 0; pos < buf.length; ) {
    const space = buf.indexOf(0x20, pos);
    if (space <= pos) return null;
    const kind = modeKind(buf, pos, space);
    if (kind === 0) return null;
    const start = space + 1;
    const nul = buf.indexOf(0, start);
    if (nul <= start || nul + 21 > buf.length || nul - start > maxNameLength) return null;
    const first = buf[start]!;
    // aliases of .git & co start with '.' or hold '~' (HFS-ignored code points are non-ASCII)
    if (first === 0x2e) return null;
    for (let i = start; i < nul; i++) {
      const c = buf[i]!;
      if (c >= 0x80 || c === 0x2f || c === 0x5c || c === 0x7e) return null; // non-ASCII, '/', '\\', '~'
    }
    let zero = true;
    for (let i = nul + 1; i < nul + 21; i++) if (buf[i] !== 0) zero = false;
    if (zero) return null;
    const dir = kind === DIR;
    const k = starts.length;
    if (k > 0 && compareEntries(buf, starts[k - 1]!, ends[k - 1]!, dirs[k - 1]!, start, nul, dir) >= 0) return null;
    // Strictly sorted, so the only possible duplicate is a file and a directory of one name:
    // the file sorts first ('a' < 'a-b' < 'a/'), and every entry between them starts with the
    // name followed by a byte below '/'.
    if (dir && fileNamedBefore(buf, starts, ends, dirs, start, nul)) return null;
    starts.push(start);
    ends.push(nul);
    dirs.push(dir);
    if (kind !== GITLINK) links.push(nul + 1);
    pos = nul + 21;
  }
  return links;
}

/**
 * Links of a tree that the full check accepted (perhaps with warnings): offsets of its ids,
 * gitlinks skipped, read from the bytes; null when it does not parse (referencedOids decides).
 */
export function treeLinks(buf: Buffer): number[] | null {
  const links: number[] = [];
  for (let pos = 0; pos < buf.length; ) {
    let mode = 0;
    let p = pos;
    for (; p < buf.length && buf[p] !== 0x20; p++) {
      const c = buf[p]!;
      if (c < 0x30 || c > 0x37) return null;
      mode = mode * 8 + (c - 0x30);
    }
    if (p === pos || p >= buf.length) return null;
    const nul = buf.indexOf(0, p + 1);
    if (nul < 0 || nul + 21 > buf.length) return null;
    if (mode !== 0o160000) links.push(nul + 1);
    pos = nul + 21;
  }
  return links;
}

/** Is there a file entry named buf[start, end) among the earlier entries (see plainTreeLinks)? */
function fileNamedBefore(buf: Buffer, starts: number[], ends: number[], dirs: boolean[], start: number, end: number): boolean {
  const len = end - start;
  for (let k = starts.length - 1; k >= 0; k--) {
    const s = starts[k]!;
    const n = ends[k]! - s;
    if (n < len || buf.compare(buf, start, end, s, s + len) !== 0) return false;
    if (n === len) return !dirs[k];
    if (buf[s + len]! >= 0x2f) return false;
  }
  return false;
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
