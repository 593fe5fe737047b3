// One bare repository over a Storage: its refs and objects (behind the RefDatabase and
// ObjectDatabase interfaces, the files implementations here) and their upkeep.
import { ObjectStore } from './object-store.js';
import { RefStore } from './refs.js';
import type { RefDatabase, RefUpdate, RefUpdateResult } from './ref-database.js';
import type { ObjectDatabase } from './object-database.js';
import { packDirOf } from './pack-names.js';
import { repoLockKey } from './repo-lock.js';
import { Maintenance, type MaintenanceOptions } from './maintenance.js';
import { beginForeground } from './courtesy.js';
import { ObjectUseGuard } from './object-use.js';
import type { Storage } from './storage.js';
import { processLocker, type RepoLocker } from './repo-lock.js';

export interface RepositoryOptions {
  maintenance?: MaintenanceOptions;
  /** Serialises this repository's read-modify-writes (default: in-process only). */
  locker?: RepoLocker;
  /** Serialises maintenance runs (default: in-process only; a cluster's skips a run another node holds). */
  maintenanceLocker?: RepoLocker;
  /** Re-read the pack list when it is older than this (cluster mode: other nodes retire packs). */
  maxScanAgeMs?: number;
}

/** A RefStore that asks for maintenance after every transaction that moved a ref (pushes, API commits). */
class MaintainedRefStore extends RefStore {
  constructor(
    storage: Storage,
    gitdir: string,
    private readonly afterUpdate: () => void,
    locker: RepoLocker | undefined,
  ) {
    super(storage, gitdir, { locker });
  }

  override async update(updates: RefUpdate[], opts: { atomic?: boolean } = {}): Promise<RefUpdateResult[]> {
    const results = await super.update(updates, opts);
    if (results.some((r) => r.ok)) this.afterUpdate();
    return results;
  }
}

export class Repository {
  readonly refs: RefDatabase;
  readonly objects: ObjectDatabase;
  /** The lock key of this repository: ref transactions and repository-wide writes run under it. */
  readonly lockKey: string;
  /** Background repacking; `await repo.maintenance.idle()` waits for it. */
  readonly maintenance: Maintenance;
  /** What read-modify-writes (and ref transactions) take the repository lock through. */
  readonly locker: RepoLocker;
  /** What Maintenance takes its lock through. */
  readonly maintenanceLocker: RepoLocker;
  /** Held shared by writers relying on stored objects until their refs move; prune deletes under it exclusively. */
  readonly objectUse = new ObjectUseGuard();

  constructor(
    readonly storage: Storage,
    readonly id: string,
    readonly gitdir: string,
    opts: RepositoryOptions = {},
  ) {
    this.locker = opts.locker ?? processLocker;
    this.maintenanceLocker = opts.maintenanceLocker ?? processLocker;
    this.lockKey = repoLockKey(gitdir);
    this.objects = new ObjectStore(storage, gitdir, { maxScanAgeMs: opts.maxScanAgeMs });
    this.maintenance = new Maintenance(this, opts.maintenance);
    this.refs = new MaintainedRefStore(storage, gitdir, () => this.maintenance.schedule(), this.locker);
  }

  /** Run a read-modify-write of this repository under its lock (waits for earlier holders). */
  withLock<T>(fn: () => Promise<T>): Promise<T> {
    return this.locker.withLock(this.lockKey, fn);
  }

  /** withLock, but REPO_LOCKED (423) instead of waiting when someone holds it. */
  tryLock<T>(fn: () => Promise<T>): Promise<T> {
    return this.locker.tryLock(this.lockKey, fn);
  }

  /** Branch HEAD points at, e.g. refs/heads/main (null if HEAD is detached). */
  async headTarget(): Promise<string | null> {
    return this.refs.readSymbolic('HEAD');
  }

  /** Where the packs live on the Storage (maintenance and forks work on these files). */
  get packDir(): string {
    return packDirOf(this.gitdir);
  }

  /** Run an operation that may hold pack handles across awaits (packs it uses stay open until it ends). */
  async track<T>(fn: () => Promise<T>): Promise<T> {
    const release = this.objects.pin();
    const done = beginForeground(); // background repacks pause meanwhile
    try {
      return await fn();
    } finally {
      done();
      release();
    }
  }

  /** track() for a response body: pinned from its first chunk until it ends, fails or is abandoned. */
  async *trackStream<T>(body: AsyncGenerator<T>): AsyncGenerator<T> {
    const release = this.objects.pin();
    const done = beginForeground();
    try {
      yield* body;
    } finally {
      done();
      release();
    }
  }

  async close(): Promise<void> {
    await this.maintenance.close();
    await this.objects.close();
  }
}
