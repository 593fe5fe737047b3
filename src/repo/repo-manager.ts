// Opens repositories by id under the data root and keeps them (and their open pack
// handles) cached between requests.
import path from 'node:path';
import { initBareRepo } from './init.js';
import { Repository } from './repository.js';
import type { Storage } from './storage.js';

export class RepoManager {
  private open = new Map<string, Repository>();
  /** Where background repack failures go (the server wires its logger here). */
  onMaintenanceError: ((err: unknown, repoId: string) => void) | null = null;

  constructor(
    readonly storage: Storage,
    private readonly opts: { pruneExpireMs?: number } = {},
  ) {}

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
      repo = new Repository(this.storage, id, this.gitdirOf(id), {
        maintenance: {
          pruneExpireMs: this.opts.pruneExpireMs,
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

  async delete(id: string): Promise<void> {
    const repo = this.open.get(id);
    this.open.delete(id);
    await repo?.close();
    await this.storage.rmrf(this.gitdirOf(id));
  }

  async closeAll(): Promise<void> {
    const repos = [...this.open.values()];
    this.open.clear();
    await Promise.all(repos.map((r) => r.close()));
  }
}
