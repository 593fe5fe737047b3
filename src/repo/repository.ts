// One bare repository: its refs and its objects, over a Storage.
import path from 'node:path';
import { ObjectStore } from './object-store.js';
import { RefStore } from './refs.js';
import type { Storage } from './storage.js';

export class Repository {
  readonly refs: RefStore;
  readonly objects: ObjectStore;

  constructor(
    readonly storage: Storage,
    readonly id: string,
    readonly gitdir: string,
  ) {
    this.refs = new RefStore(storage, gitdir);
    this.objects = new ObjectStore(storage, gitdir);
  }

  /** Branch HEAD points at, e.g. refs/heads/main (null if HEAD is detached). */
  async headTarget(): Promise<string | null> {
    return this.refs.readSymbolic('HEAD');
  }

  get tmpDir(): string {
    return path.join(this.gitdir, 'objects', 'pack');
  }

  async close(): Promise<void> {
    await this.objects.close();
  }
}
