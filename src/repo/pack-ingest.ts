// Receiving a pack into a repository: spool + index it under temporary names, check every
// object (syntax and links), and only then rename .pack and .idx into place. Nothing is
// left behind when any step fails. A pack from a shallow client may hold its boundary commits
// without their parents: such a pack is checked but never installed, since every stored object
// must have its whole history stored (connectivity checks rely on it).
import { indexPack } from '../pack/indexer.js';
import { PackFile } from '../pack/pack-file.js';
import { PackIndex } from '../pack/idx.js';
import { isOid } from '../oid.js';
import { OBJ_COMMIT, OBJ_TAG, OBJ_TREE } from '../pack/types.js';
import { CheckThread, useCheckThread } from './check-thread.js';
import { ObjectChecks, type CheckOptions } from './object-checks.js';
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

export interface IngestOptions extends CheckOptions {
  maxBytes?: number;
  maxObjects?: number;
}

/** Blobs carry no links: the few that need a look (.gitmodules, .gitattributes) are read at the end. */
const CHECKED_TYPES = [OBJ_COMMIT, OBJ_TREE, OBJ_TAG];

export async function ingestPack(repo: Repository, input: AsyncIterable<Buffer>, opts: IngestOptions = {}): Promise<IngestedPack> {
  const receiver = await repo.objects.inserter.newPack();
  const { handle } = receiver;
  let closed = false;
  try {
    // every object is checked while the indexer holds its bytes (fsck, and its links noted);
    // whether the links exist is known once the whole pack is indexed;
    // a large pack has them checked in a thread beside the indexer (C Git's index-pack checks
    // in its resolving threads); what that thread collected joins these checks at the end
    const checks = new ObjectChecks(opts);
    const side: { thread: CheckThread | null } = { thread: null };
    let result;
    try {
      result = await indexPack({
        input,
        output: handle,
        maxBytes: opts.maxBytes,
        maxObjects: opts.maxObjects,
        lookupBase: async (oid) => repo.objects.read(oid.toString('hex')),
        onSpooled: (bytes) => {
          if (useCheckThread(bytes)) side.thread = new CheckThread(opts);
        },
        onObjectTypes: CHECKED_TYPES,
        onObject: (i, oid, code, content) => (side.thread && content !== null ? side.thread.check(i, oid, code, content) : checks.check(i, oid, code, content)),
      });
      if (side.thread) {
        const state = await side.thread.finish();
        side.thread.close(); // its heap goes before this one grows by what it collected
        checks.absorb(state);
      }
    } finally {
      side.thread?.close();
    }
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

