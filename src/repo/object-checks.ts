// Push verification (receive.fsckObjects plus links), object by object as the indexer resolves
// them: fsck findings settled by policy, and every id some object links to collected for one
// lookup once the pack is complete. Runs on the request's thread or in a check thread.
import { GitgateError } from '../errors.js';
import type { IndexPackResult } from '../pack/indexer.js';
import { OBJ_BLOB, OBJ_COMMIT, OBJ_TREE, codeFromType, typeFromCode } from '../pack/types.js';
import type { PackFile } from '../pack/pack-file.js';
import type { PackIndex } from '../pack/idx.js';
import { DEFAULT_FSCK_POLICY, formatFinding, fsckObject, fsckSpecialBlob, type Finding, type FsckPolicy, type SpecialBlobs } from './fsck/index.js';
import { referencedOids } from './objects/references.js';
import { OidSet } from './oid-set.js';
import type { Repository } from './repository.js';
import { plainTreeLinks, treeLinks } from './tree-links.js';

/** What ObjectChecks collected (see state()): structured-clone friendly. */
export interface CheckState {
  /** Linked ids, member k at 20k, named first by entry referrer[k]. */
  wanted: Uint8Array;
  referrer: Int32Array;
  /** Parents of shallow commits: entry boundaryEntries[k] names id k of boundaryIds. */
  boundaryEntries: Int32Array;
  boundaryIds: Uint8Array;
  gitmodules: string[];
  gitattributes: string[];
  /** Entries too large to have been held: read back in finish. */
  deferred: Int32Array;
}

export interface CheckOptions {
  /** The client's shallow commits (hex): these may arrive without their parents. */
  shallow?: ReadonlySet<string>;
  /** Severities and skip list (receive.fsck.*); C Git's defaults otherwise. */
  fsck?: FsckPolicy;
  /** Each fsck report as receive-pack prints it (`warning: object <id>: <msgId>: <text>`). */
  onReport?: (line: string) => void;
}

/**
 * receive.fsckObjects plus links: every object referenced from the pack must exist, except the
 * parents of the client's shallow commits. Each object is checked as the indexer resolves it
 * (its bytes in hand, C Git's index-pack --strict does the same); its links go to one set of
 * wanted ids (each id once, with the first object naming it), looked up when the pack is complete.
 */
export class ObjectChecks {
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
  /** Links a check thread collected: ids[20k..] named first by entry referrer[k]. */
  private readonly absorbed: { ids: Buffer; referrer: Int32Array }[] = [];

  constructor(private readonly opts: CheckOptions) {
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

  /** What the checks collected, to hand from a check thread to the request's thread (buffers transferable). */
  state(): CheckState {
    const n = this.wanted.size;
    const boundaryEntries = Int32Array.from(this.boundary, ([i]) => i);
    const boundaryIds = Buffer.allocUnsafeSlow(20 * this.boundary.length);
    this.boundary.forEach(([, id], k) => id.copy(boundaryIds, 20 * k));
    return {
      wanted: this.wanted.raw(),
      referrer: this.referrer.slice(0, n),
      boundaryEntries,
      boundaryIds,
      gitmodules: [...this.found.gitmodules],
      gitattributes: [...this.found.gitattributes],
      deferred: Int32Array.from(this.deferred),
    };
  }

  /** Take over what another instance (a check thread) collected. */
  absorb(other: CheckState): void {
    // its links are looked up as they are (no second set of 400k ids built here)
    this.absorbed.push({ ids: Buffer.from(other.wanted.buffer, other.wanted.byteOffset, other.wanted.byteLength), referrer: other.referrer });
    const bIds = Buffer.from(other.boundaryIds.buffer, other.boundaryIds.byteOffset, other.boundaryIds.byteLength);
    other.boundaryEntries.forEach((i, k) => this.boundary.push([i, Buffer.from(bIds.subarray(20 * k, 20 * k + 20))]));
    for (const hex of other.gitmodules) this.found.gitmodules.add(hex);
    for (const hex of other.gitattributes) this.found.gitattributes.add(hex);
    for (const i of other.deferred) this.deferred.push(i);
  }

  /** The deferred objects, the links, the special blobs; returns the grafted shallow commits. */
  async finish(repo: Repository, pack: PackFile, indexed: IndexPackResult, index: PackIndex): Promise<string[]> {
    const { oids, offsets } = indexed;
    const hexOf = (i: number) => oids.toString('hex', 20 * i, 20 * i + 20);
    for (const i of this.deferred) {
      const obj = await pack.readAt(offsets[i]!);
      this.check(i, oids.subarray(20 * i, 20 * i + 20), codeFromType(obj.type), obj.content);
    }
    for (const { ids, referrer } of [...this.absorbed, { ids: this.wanted.raw(), referrer: this.referrer.subarray(0, this.wanted.size) }]) {
      for (let k = 0; k < referrer.length; k++) {
        const at = 20 * k;
        if (index.findAt(ids, at) >= 0) continue;
        const hex = ids.toString('hex', at, at + 20);
        if (!(await repo.objects.has(hex))) {
          throw new GitgateError('BAD_PACK', { detail: `object ${hexOf(referrer[k]!)} references missing object ${hex}` });
        }
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
  opts: CheckOptions,
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
function settle(oid: string, findings: Finding[], opts: CheckOptions): void {
  for (const f of findings) {
    opts.onReport?.(`${f.outcome === 'error' ? 'error' : 'warning'}: ${formatFinding(oid, f)}`);
    if (f.outcome === 'error') throw new GitgateError('BAD_PACK', { detail: `object ${oid} is malformed: ${f.id}: ${f.message}` });
  }
}

