// One bare repository: its refs, its objects and their upkeep, over a Storage.
import path from 'node:path';
import { ObjectStore } from './object-store.js';
import { RefStore, type RefUpdate, type RefUpdateResult } from './refs.js';
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
  readonly refs: RefStore;
  readonly objects: ObjectStore;
  /** Background repacking; `await repo.maintenance.idle()` waits for it. */
  readonly maintenance: Maintenance;
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
    this.maintenanceLocker = opts.maintenanceLocker ?? processLocker;
    this.objects = new ObjectStore(storage, gitdir, { maxScanAgeMs: opts.maxScanAgeMs });
    this.maintenance = new Maintenance(this, opts.maintenance);
    this.refs = new MaintainedRefStore(storage, gitdir, () => this.maintenance.schedule(), opts.locker);
  }

  /** Run a read-modify-write of this repository under its lock (waits for earlier holders). */
  withLock<T>(fn: () => Promise<T>): Promise<T> {
    return this.refs.locker.withLock(this.refs.lockKey, fn);
  }

  /** withLock, but REPO_LOCKED (423) instead of waiting when someone holds it. */
  tryLock<T>(fn: () => Promise<T>): Promise<T> {
    return this.refs.locker.tryLock(this.refs.lockKey, fn);
  }

  /** Branch HEAD points at, e.g. refs/heads/main (null if HEAD is detached). */
  async headTarget(): Promise<string | null> {
    return this.refs.readSymbolic('HEAD');
  }

  get tmpDir(): string {
    return path.join(this.gitdir, 'objects', 'pack');
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
