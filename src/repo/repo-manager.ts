// Opens repositories by id under the data root and keeps them (and their open pack
// handles) cached between requests.
import path from 'node:path';
import { initBareRepo } from './init.js';
import { Repository } from './repository.js';
import type { Storage } from './storage.js';
import { processLocker, repoLockKey, type RepoLocker } from './repo-lock.js';

/** Cluster mode: how stale a repository's pack list may get (at most a quarter of the retire grace). */
const MAX_SCAN_AGE_MS = 60_000;
/** …but not a directory listing per object lookup, however short the grace. */
const MIN_SCAN_AGE_MS = 1000;

export class RepoManager {
  private open = new Map<string, Repository>();
  /** Told of each background maintenance run (the server counts them in its metrics). */
  onMaintenanceRun: ((outcome: 'done' | 'skipped', repoId: string) => void) | null = null;
  /** Where background repack failures go (the server wires its logger here). */
  onMaintenanceError: ((err: unknown, repoId: string) => void) | null = null;

  constructor(
    readonly storage: Storage,
    private readonly opts: {
      pruneExpireMs?: number;
      /** Serialises read-modify-writes and maintenance (a cluster's locker spans nodes). */
      locker?: RepoLocker;
      maintenanceLocker?: RepoLocker;
      /** Replaced packs are renamed aside and deleted this long after (cluster mode); unset: deleted. */
      packRetireGraceMs?: number | null;
    } = {},
  ) {}

  get locker(): RepoLocker {
    return this.opts.locker ?? processLocker;
  }

  gitdirOf(id: string): string {
    return path.join(this.storage.root, `${id}.git`);
  }

  async create(id: string, defaultBranch: string): Promise<Repository> {
    await initBareRepo(this.storage, this.gitdirOf(id), defaultBranch);
    return this.get(id);
  }

  get(id: string): Repository {
    let repo = this.open.get(id);
    if (!repo) {
      const grace = this.opts.packRetireGraceMs ?? null;
      repo = new Repository(this.storage, id, this.gitdirOf(id), {
        locker: this.opts.locker,
        maintenanceLocker: this.opts.maintenanceLocker,
        // packs other nodes retire are let go of well within their grace
        maxScanAgeMs: grace === null ? undefined : Math.max(MIN_SCAN_AGE_MS, Math.min(MAX_SCAN_AGE_MS, grace / 4)),
        maintenance: {
          pruneExpireMs: this.opts.pruneExpireMs,
          packRetireGraceMs: grace ?? undefined,
          onRun: (outcome) => this.onMaintenanceRun?.(outcome, id),
          onError: (err) => {
            if (this.onMaintenanceError) this.onMaintenanceError(err, id);
            else process.stderr.write(`gitgate: background repack of ${id} failed: ${(err as Error)?.message ?? String(err)}\n`);
          },
        },
      });
      this.open.set(id, repo);
    }
    return repo;
  }

  async exists(id: string): Promise<boolean> {
    return this.storage.exists(path.join(this.gitdirOf(id), 'HEAD'));
  }

  /** Remove the repository's files, under its lock: no push or REST write (of any node) is half-way through them. */
  async delete(id: string): Promise<void> {
    const gitdir = this.gitdirOf(id);
    const repo = this.open.get(id);
    this.open.delete(id);
    await repo?.close(); // before the lock: a running prune finishes under it
    await this.locker.withLock(repoLockKey(gitdir), () => this.storage.rmrf(gitdir));
  }

  async closeAll(): Promise<void> {
    const repos = [...this.open.values()];
    this.open.clear();
    await Promise.all(repos.map((r) => r.close()));
  }
}
