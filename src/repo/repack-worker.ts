// The worker process of repack-runner.ts: receives one job, runs repackFiles over the
// repository's files with its own object store, replies with the outcome and exits. Its parent
// going away counts as an abort (nothing is installed after that).
import fs from 'node:fs';
import path from 'node:path';
import { packObjectPool } from '../pack/pack-file.js';
import { ObjectStore } from './object-store.js';
import { repackFiles } from './repack.js';
import type { FromWorker, ToWorker, WorkerJob } from './repack-runner.js';
import { nodeStorage } from './storage.js';

let abortRequested = false;

function reply(msg: FromWorker): void {
  if (!process.send) process.exit(1);
  process.send(msg, () => process.exit(0));
}

/** The abort flag repackFiles polls; with a test fault, also the place to die mid-write. */
function signalFor(job: WorkerJob): { readonly aborted: boolean } {
  const packDir = path.join(job.gitdir, 'objects', 'pack');
  return {
    get aborted() {
      if (job.fault === 'while-writing' && fs.readdirSync(packDir).some((f) => f.startsWith('tmp_pack_'))) process.exit(70);
      return abortRequested;
    },
  };
}

async function run(job: WorkerJob): Promise<void> {
  try {
    const storage = nodeStorage(job.root, job.owner);
    const objects = new ObjectStore(storage, job.gitdir);
    await objects.retirePacks(job.ignore); // on disk for a while yet, but replaced: never rolled up again
    const outcome = await repackFiles({ storage, gitdir: job.gitdir, objects }, { factor: job.factor, all: job.all, looseThreshold: job.looseThreshold, signal: signalFor(job) });
    if (job.fault === 'after-install') process.exit(71);
    await objects.close();
    reply({ type: 'done', outcome });
  } catch (err) {
    reply({ type: 'error', message: (err as Error)?.message ?? String(err) });
  }
}

process.on('message', (msg: ToWorker) => {
  if (msg.type === 'abort') abortRequested = true;
  else if (msg.type === 'repack') {
    packObjectPool.resize(msg.packCacheBytes);
    void run(msg.job);
  }
});
process.on('disconnect', () => {
  abortRequested = true;
});
