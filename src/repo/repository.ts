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

export interface RepositoryOptions {
  maintenance?: MaintenanceOptions;
}

/** A RefStore that asks for maintenance after every transaction that moved a ref (pushes, API commits). */
class MaintainedRefStore extends RefStore {
  constructor(
    storage: Storage,
    gitdir: string,
    private readonly afterUpdate: () => void,
  ) {
    super(storage, gitdir);
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
  /** The withRepoLock key of this repository: ref transactions and repository-wide writes run under it. */
  readonly lockKey: string;
  /** Background repacking; `await repo.maintenance.idle()` waits for it. */
  readonly maintenance: Maintenance;
  /** Held shared by writers relying on stored objects until their refs move; prune deletes under it exclusively. */
  readonly objectUse = new ObjectUseGuard();

  constructor(
    readonly storage: Storage,
    readonly id: string,
    readonly gitdir: string,
    opts: RepositoryOptions = {},
  ) {
    this.lockKey = repoLockKey(gitdir);
    this.objects = new ObjectStore(storage, gitdir);
    this.maintenance = new Maintenance(this, opts.maintenance);
    this.refs = new MaintainedRefStore(storage, gitdir, () => this.maintenance.schedule());
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
