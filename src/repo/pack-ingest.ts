// Receiving a pack into a repository: spool + index it under temporary names, check every
// object (syntax and links), and only then rename .pack and .idx into place. Nothing is
// left behind when any step fails. A pack from a shallow client may hold its boundary commits
// without their parents: such a pack is checked but never installed, since every stored object
// must have its whole history stored (connectivity checks rely on it).
import { GitgateError } from '../errors.js';
import { indexPack, type IndexPackResult } from '../pack/indexer.js';
import { OBJ_BLOB, OBJ_COMMIT, OBJ_TREE, codeFromType, typeFromCode } from '../pack/types.js';
import { PackFile } from '../pack/pack-file.js';
import { PackIndex } from '../pack/idx.js';
import { DEFAULT_FSCK_POLICY, formatFinding, fsckObject, fsckSpecialBlob, type Finding, type FsckPolicy, type SpecialBlobs } from './fsck/index.js';
import { referencedOids } from './objects/references.js';
import { isOid } from '../oid.js';
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
    // every object is checked while the indexer holds its bytes (fsck, and its links noted);
    // whether the links exist is known once the whole pack is indexed
    const checks = new ObjectChecks(opts);
    const result = await indexPack({
      input,
      output: handle,
      maxBytes: opts.maxBytes,
      maxObjects: opts.maxObjects,
      lookupBase: async (oid) => repo.objects.read(oid.toString('hex')),
      onObject: (i, oid, code, content) => checks.check(i, oid, code, content),
    });
    if (result.count === 0) return { name: null, objectCount: 0, contains: () => false, grafted: [] };
    await handle.sync();
    // the new .idx answers "is it in the pack" (links, new tips): no set of 400k ids beside it
    const index = PackIndex.parse(result.idx);
    const contains = (oid: string) => isOid(oid) && index.find(Buffer.from(oid, 'hex')) >= 0;
    const pack = await PackFile.open(handle, index);
    closed = true; // the PackFile owns the handle now
    let grafted: string[];
    try {
      grafted = await checks.finish(repo, pack, result, index);
    } finally {
      await pack.close();
    }
    if (grafted.length) return { name: null, objectCount: result.count, contains: () => false, grafted };
    const name = await receiver.install(result.idx, result.packChecksum);
    return { name, objectCount: result.count, contains, grafted: [] };
  } finally {
    if (!closed) await handle.close().catch(() => undefined);
    await receiver.discard();
  }
}

/**
 * receive.fsckObjects plus links: every object referenced from the pack must exist, except the
 * parents of the client's shallow commits. Each object is checked as the indexer resolves it
 * (its bytes in hand, C Git's index-pack --strict does the same); its links go to one set of
 * wanted ids (each id once, with the first object naming it), looked up when the pack is complete.
 */
class ObjectChecks {
  private readonly shallow: ReadonlySet<string>;
  private readonly policy: FsckPolicy;
  private readonly found: SpecialBlobs = { gitmodules: new Set(), gitattributes: new Set() };
  /** Every id some object of the pack links to; referrer[k] is the entry naming member k first. */
  private readonly wanted = new OidSet(1024);
  private referrer = new Int32Array(1024);
  /** Parents of the client's shallow commits: [entry, parent id] (missing ones make it grafted). */
  private readonly boundary: [number, Buffer][] = [];
  /** Non-blob objects too large to have been held while indexing: read back at the end. */
  private readonly deferred: number[] = [];

  constructor(private readonly opts: IngestOptions) {
    this.shallow = opts.shallow ?? new Set<string>();
    this.policy = opts.fsck ?? DEFAULT_FSCK_POLICY;
  }

  check(i: number, oid: Buffer, code: number, content: Buffer | null): void {
    if (code === OBJ_BLOB) return; // blobs carry no links; the few that need a look come last
    if (content === null) {
      this.deferred.push(i);
      return;
    }
    // links as 20-byte ids at offsets of `bytes`: the tree itself, or the ids of the slow path
    let bytes = content;
    let links = code === OBJ_TREE ? plainTreeLinks(content, this.policy.maxPathnameLength, this.found) : null;
    let hex: string | null = null;
    if (links === null) {
      const type = typeFromCode(code);
      hex = oid.toString('hex');
      settle(hex, fsckObject(hex, type, content, this.policy, this.found), this.opts);
      links = code === OBJ_TREE ? treeLinks(content) : null;
      if (links === null) {
        const refs = referencedOids(type, content);
        bytes = Buffer.allocUnsafe(20 * refs.length);
        links = refs.map((r, k) => (bytes.write(r.oid, 20 * k, 'hex'), 20 * k));
      }
    }
    // a commit's links are its tree, then its parents
    const boundary = code === OBJ_COMMIT && this.shallow.size > 0 && this.shallow.has(hex ?? oid.toString('hex'));
    for (let k = 0; k < links.length; k++) {
      const at = links[k]!;
      if (boundary && k > 0) this.boundary.push([i, Buffer.from(bytes.subarray(at, at + 20))]);
      else if (this.wanted.add(bytes, at)) this.noteReferrer(i);
    }
  }

  private noteReferrer(i: number): void {
    const k = this.wanted.size - 1;
    if (k >= this.referrer.length) {
      const grown = new Int32Array(this.referrer.length * 2);
      grown.set(this.referrer);
      this.referrer = grown;
    }
    this.referrer[k] = i;
  }

  /** The deferred objects, the links, the special blobs; returns the grafted shallow commits. */
  async finish(repo: Repository, pack: PackFile, indexed: IndexPackResult, index: PackIndex): Promise<string[]> {
    const { oids, offsets } = indexed;
    const hexOf = (i: number) => oids.toString('hex', 20 * i, 20 * i + 20);
    for (const i of this.deferred) {
      const obj = await pack.readAt(offsets[i]!);
      this.check(i, oids.subarray(20 * i, 20 * i + 20), codeFromType(obj.type), obj.content);
    }
    const ids = this.wanted.raw();
    for (let k = 0; k < this.wanted.size; k++) {
      const at = 20 * k;
      if (index.findAt(ids, at) >= 0) continue;
      const hex = ids.toString('hex', at, at + 20);
      if (!(await repo.objects.has(hex))) {
        throw new GitgateError('BAD_PACK', { detail: `object ${hexOf(this.referrer[k]!)} references missing object ${hex}` });
      }
    }
    const grafted: string[] = [];
    for (const [i, parent] of this.boundary) {
      if (index.find(parent) >= 0 || (await repo.objects.has(parent.toString('hex')))) continue;
      const oid = hexOf(i);
      if (!grafted.includes(oid)) grafted.push(oid);
    }
    await checkSpecialBlobs(repo, pack, index, this.found, this.policy, this.opts);
    return grafted;
  }
}

/** fsck_finish: blobs that trees name .gitmodules or .gitattributes, in the pack or already stored. */
async function checkSpecialBlobs(
  repo: Repository,
  pack: PackFile,
  index: PackIndex,
  found: SpecialBlobs,
  policy: FsckPolicy,
  opts: IngestOptions,
): Promise<void> {
  const check = async (kind: 'gitmodules' | 'gitattributes', hex: string) => {
    const at = index.find(Buffer.from(hex, 'hex'));
    const obj = at >= 0 ? await pack.readAt(index.offsetAt(at)) : await repo.objects.read(hex);
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
 * cannot be an alias of .git, .gitmodules, .mailmap and the like on any file system (no '~',
 * '\\', '/'; a leading '.' only where dotName allows it), no name longer than largePathname
 * allows, no null ids, strictly sorted, no name twice. Such a tree has no fsck finding at all,
 * so the offsets of its links (ids in `buf`, gitlinks skipped) are returned, and the ids of
 * its .gitmodules and .gitattributes go to `found` as fsckTree puts them there (without
 * `found`, a tree holding one takes the full check); anything else returns null and gets the
 * full check. Most pushed objects are trees, and this is several times faster; it makes no
 * string per entry.
 */
export function plainTreeLinks(buf: Buffer, maxNameLength = 4096, found?: SpecialBlobs): number[] | null {
  const links: number[] = [];
  if (buf.length > 0 && (buf.length < 23 || buf[buf.length - 21] !== 0)) return null;
  const starts: number[] = [];
  const ends: number[] = [];
  const dirs: boolean[] = [];
  const n = buf.length;
  for (let pos = 0; pos < n; ) {
    // byte loops rather than indexOf: modes and names are short, indexOf is a native call
    let space = pos;
    while (space < n && buf[space] !== 0x20) space++;
    if (space === pos || space === n) return null;
    const kind = modeKind(buf, pos, space);
    if (kind === 0) return null;
    const start = space + 1;
    let nul = start;
    for (; nul < n; nul++) {
      const c = buf[nul]!;
      if (c === 0) break;
      if (c >= 0x80 || c === 0x2f || c === 0x5c || c === 0x7e) return null; // non-ASCII, '/', '\\', '~'
    }
    if (nul === start || nul + 21 > n || nul - start > maxNameLength) return null;
    let zero = true;
    for (let i = nul + 1; i < nul + 21; i++) if (buf[i] !== 0) zero = false;
    if (zero) return null;
    // aliases of .git & co start with '.' or hold '~' (HFS-ignored code points are non-ASCII)
    if (buf[start] === 0x2e) {
      const special = dotName(buf.toString('latin1', start, nul));
      if (special === SLOW) return null;
      if (special !== PLAIN) {
        const symlink = kind === FILE && buf[pos + 1] === 0x32; // 120000
        if (symlink || !found) return null; // the *Symlink findings, or nowhere to note the blob
        if (special === GITMODULES) found.gitmodules.add(buf.toString('hex', nul + 1, nul + 21));
        else if (special === GITATTRIBUTES) found.gitattributes.add(buf.toString('hex', nul + 1, nul + 21));
      }
    }
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

const PLAIN = 0;
const SLOW = 1;
const GITMODULES = 2;
const GITATTRIBUTES = 3;
const QUIET = 4; // .gitignore, .mailmap: a finding only as a symlink

/** Names fsckTree looks at (is_hfs_dot* and is_ntfs_dot* for ASCII names without '~' or '\\'). */
const SPECIAL_NAMES = ['git', 'gitmodules', 'gitattributes', 'gitignore', 'mailmap'];

/**
 * What fsckTree makes of an ASCII name starting with '.' (no '~', '\\', '/'): PLAIN when it is no
 * alias of a special name (NTFS drops trailing spaces and dots and reads ':' as a stream
 * separator, case is ignored), the kind of the canonical spellings .gitmodules,
 * .gitattributes, .gitignore and .mailmap, SLOW for '.', '..', .git and every other alias.
 */
function dotName(name: string): number {
  if (name === '.gitmodules') return GITMODULES;
  if (name === '.gitattributes') return GITATTRIBUTES;
  if (name === '.gitignore' || name === '.mailmap') return QUIET;
  if (/^\.*$/.test(name)) return SLOW;
  const lower = name.toLowerCase();
  for (const special of SPECIAL_NAMES) {
    if (lower.startsWith(special, 1) && /^[ .]*(:|$)/.test(lower.slice(special.length + 1))) return SLOW;
  }
  return PLAIN;
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
  // a byte loop: names are short, and Buffer#compare is a native call per entry
  for (let i = 0; i < len; i++) {
    const d = buf[aStart + i]! - buf[bStart + i]!;
    if (d !== 0) return d;
  }
  const ca = aLen > len ? buf[aStart + len]! : aDir ? 0x2f : 0;
  const cb = bLen > len ? buf[bStart + len]! : bDir ? 0x2f : 0;
  return ca - cb;
}
