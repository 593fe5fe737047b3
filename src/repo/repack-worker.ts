// The worker process of repack-runner.ts: receives one job (a repack's file work, a bitmap, a
// prune), runs it over the repository's files with its own object store, replies with the
// outcome and exits. Its parent going away counts as an abort (nothing is installed after that).
import fs from 'node:fs';
import path from 'node:path';
import { packObjectPool } from '../pack/pack-file.js';
import { bitmapLargestPack, type KnownTypes } from './bitmap-write.js';
import { pruneNow, type PruneHooks } from './prune.js';
import { repackFiles, type RepackOutcome } from './repack.js';
import type { FromWorker, ToWorker, WorkerJob } from './repack-runner.js';
import { Repository } from './repository.js';
import { nodeStorage } from './storage.js';

let abortRequested = false;
/** A prune waiting for its parent's go-ahead (true) or abort (false). */
let goAhead: ((go: boolean) => void) | null = null;

function send(msg: FromWorker, then: () => void = () => undefined): void {
  if (!process.send) process.exit(1);
  process.send(msg, then);
}

function reply(msg: FromWorker): void {
  send(msg, () => process.exit(0));
}

/** The abort flag the jobs poll; with a test fault, also the place to die mid-write. */
function signalFor(job: WorkerJob): { readonly aborted: boolean } {
  const packDir = path.join(job.gitdir, 'objects', 'pack');
  return {
    get aborted() {
      if (job.fault === 'while-writing' && fs.readdirSync(packDir).some((f) => f.startsWith('tmp_pack_'))) process.exit(70);
      return abortRequested;
    },
  };
}

/** Prune's deletion step: ask the parent, which takes the push guard and the ref lock, then go. */
const pruneHooks: Omit<PruneHooks, 'installPack'> = {
  async exclusive(fn) {
    const go = await new Promise<boolean>((resolve) => {
      goAhead = resolve;
      send({ type: 'ready', pack: pendingPack });
    });
    goAhead = null;
    return go && !abortRequested ? fn() : null;
  },
  // the parent retires the packs and deletes their files (under the same locks)
  async retire() {},
};
let pendingPack: string | null = null;

async function run(job: WorkerJob): Promise<void> {
  try {
    // maintenance off: this process only does the one job
    const repo = new Repository(nodeStorage(job.root, job.owner), path.basename(job.gitdir), job.gitdir, { maintenance: { enabled: false } });
    const objects = repo.objects;
    await objects.retirePacks(job.ignore); // on disk for a while yet, but replaced: never rolled up again
    const signal = signalFor(job);
    let outcome: unknown;
    if (job.kind === 'repack') {
      let known: KnownTypes | undefined;
      const files = await repackFiles(repo, { factor: job.factor, all: job.all, looseThreshold: job.looseThreshold, signal }, (pack, typeCodes) => (known = { pack, typeCodes }));
      if (job.fault === 'after-install') process.exit(71);
      if (files && job.bitmap) await bitmapAfterFiles(repo, files, job.bitmap.skip, signal, known);
      outcome = files;
    } else if (job.kind === 'bitmap') {
      outcome = await bitmapLargestPack(repo, { signal });
    } else {
      outcome = await pruneNow(repo, { expireMs: job.expireMs, now: job.now, signal }, {
        ...pruneHooks,
        async installPack(name) {
          pendingPack = name;
          await objects.addPack(name);
        },
      });
    }
    await objects.close();
    reply({ type: 'done', outcome });
  } catch (err) {
    reply({ type: 'error', message: (err as Error)?.message ?? String(err) });
  }
}

/**
 * A repack job's bitmap step, over the packs as the parent will list them (the new one in, the
 * rolled-up ones out). Its failure is reported in the outcome, not thrown: the repack stands.
 */
async function bitmapAfterFiles(repo: Repository, files: RepackOutcome, skip: string[], signal: { readonly aborted: boolean }, known?: KnownTypes): Promise<void> {
  try {
    if (files.pack) await repo.objects.addPack(files.pack);
    await repo.objects.retirePacks(files.rolledUp);
    files.bitmap = await bitmapLargestPack(repo, { signal, skip: (_pack, name) => skip.includes(name), known });
  } catch (err) {
    files.bitmapError = (err as Error)?.message ?? String(err);
  }
}

process.on('message', (msg: ToWorker) => {
  if (msg.type === 'abort') {
    abortRequested = true;
    goAhead?.(false);
  } else if (msg.type === 'finish') goAhead?.(true);
  else {
    packObjectPool.resize(msg.packCacheBytes);
    void run(msg.job);
  }
});
process.on('disconnect', () => {
  abortRequested = true;
  goAhead?.(false);
});
