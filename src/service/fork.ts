// Forks: a new repository with every ref of the source and its HEAD, sharing the source's
// objects by hard links. Pack files are immutable (repack writes new packs and unlinks old
// ones, never edits one in place; refs are files of their own), so after the link the two
// repositories are independent: pushes, repacks and deletions on either side only add or
// unlink their own directory entries. Loose objects are linked too (also write-once).
import crypto from 'node:crypto';
import path from 'node:path';
import type { RepoRow } from '../db/repos-table.js';
import { GitgateError } from '../errors.js';
import { listLoose } from '../repo/loose.js';
import type { Repository } from '../repo/repository.js';
import type { Storage } from '../repo/storage.js';
import type { Services } from './services.js';
import type { RepoInfo } from './repo-service.js';
import { OID_SOURCE } from '../oid.js';

export interface ForkInput {
  name?: string | null;
  metadata?: Record<string, string> | null;
  /** Start from the source's metadata (the request's metadata wins key by key). */
  copyMetadata?: boolean;
  /** Why the caller may not create `ref` in the new repository, or null (ref-scoped tokens). */
  refCheck?: (ref: string) => string | null;
}

export interface ForkStats {
  linked: number;
  copied: number;
  refs: number;
}

/** Files of a pack, including C Git's companions; the .idx last so a reader never finds an index without its pack. */
const PACK_FILE = new RegExp(`^pack-${OID_SOURCE}\\.(pack|rev|bitmap|mtimes|promisor|keep|idx)$`);
const PACK_ORDER = ['pack', 'rev', 'bitmap', 'mtimes', 'promisor', 'keep', 'idx'];
/** A repack may retire files while we link: re-list and link what is new, a few times at most. */
const MAX_ROUNDS = 5;

export async function forkRepo(ctx: Services, source: RepoRow, input: ForkInput): Promise<RepoInfo & { stats: ForkStats }> {
  const src = ctx.manager.get(source.id);
  const id = crypto.randomUUID();
  const metadata = input.copyMetadata ? { ...(source.metadata ?? {}), ...(input.metadata ?? {}) } : (input.metadata ?? null);
  await ctx.repos.insert({ id, name: input.name ?? null, metadata, default_branch: source.default_branch });
  try {
    const dst = await ctx.manager.create(id, source.default_branch);
    // pinned: background repacks of the source pause, and packs we read stay open
    const result = await src.track(async () => {
      // refs are read under the source's lock: every object they reach is on disk by then
      const snap = await src.withLock(async () => ({ refs: await src.refs.list('refs/'), head: await src.headTarget() }));
      for (const r of snap.refs) {
        const reason = input.refCheck?.(r.name);
        if (reason) throw new GitgateError('FORBIDDEN', { reason });
      }
      const stats = await shareObjects(ctx.storage, src, dst);
      // one packed-refs file, like git clone: thousands of refs cost one write, not one fsync each
      await dst.refs.seed(snap.refs);
      if (snap.head && snap.head !== `refs/heads/${source.default_branch}`) await dst.refs.setSymbolic('HEAD', snap.head);
      return { ...stats, refs: snap.refs.length };
    });
    await ctx.audit.record({ action: 'repo.fork', repoIds: [id], detail: { source: source.id, refs: result.refs } });
    return { repo_id: id, repo_head: await dst.refs.resolve('HEAD'), stats: result };
  } catch (err) {
    await ctx.repos.delete(id);
    await ctx.manager.delete(id).catch(() => undefined);
    throw err;
  }
}

/** Link (or copy) every pack file and loose object of `src` into `dst`. */
async function shareObjects(storage: Storage, src: Repository, dst: Repository): Promise<{ linked: number; copied: number }> {
  const stats = { linked: 0, copied: 0 };
  const done = new Set<string>();
  for (let round = 0; round < MAX_ROUNDS; round++) {
    // loose objects first: one that vanishes went into a pack installed before its deletion,
    // which the pack listing below (or the next round's) sees
    const files = [...(await looseFiles(storage, src)), ...(await packFiles(storage, src))].filter((f) => !done.has(f));
    let vanished = false;
    for (const rel of files) {
      const from = path.join(src.gitdir, rel);
      const to = path.join(dst.gitdir, rel);
      try {
        await storage.mkdir(path.dirname(to));
        stats[(await storage.linkOrCopy(from, to)) === 'link' ? 'linked' : 'copied']++;
        done.add(rel);
      } catch (err) {
        if ((err as { code?: string }).code !== 'ENOENT') throw err;
        vanished = true;
      }
    }
    if (!vanished) {
      await storage.syncDir(dst.packDir);
      return stats;
    }
  }
  throw new GitgateError('REPO_LOCKED');
}

async function looseFiles(storage: Storage, repo: Repository): Promise<string[]> {
  return (await listLoose(storage, path.join(repo.gitdir, 'objects'))).map((oid) => `objects/${oid.slice(0, 2)}/${oid.slice(2)}`);
}

async function packFiles(storage: Storage, repo: Repository): Promise<string[]> {
  const names = (await storage.readdir(repo.packDir)).filter((n) => PACK_FILE.test(n));
  // only packs whose index has arrived are installed; a pack still being written is not ours
  const installed = new Set(names.filter((n) => n.endsWith('.idx')).map((n) => n.slice(0, -4)));
  const rank = (n: string) => PACK_ORDER.indexOf(n.slice(n.lastIndexOf('.') + 1));
  return names
    .filter((n) => installed.has(n.slice(0, n.lastIndexOf('.'))))
    .sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : 1))
    .map((n) => `objects/pack/${n}`);
}
