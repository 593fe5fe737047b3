// Runs maintenance in a child process: a repack's file work (repackFiles), writing a
// reachability bitmap (bitmap-write.ts) and a prune's walk and rewrite (prune.ts), so their CPU
// (reading, CRC-checking, inflating, walking and writing hundreds of megabytes) never stalls the
// event loop that serves clones and pushes, and their memory (the plan of every object, the
// bitmaps being built, the set of reachable ids) goes back to the system when the child ends.
//  - one worker at a time per server process (a queue shared by all repositories);
//  - at the lowest CPU priority (nice 19): on a busy machine requests get the cores first, an
//    idle one repacks at full speed;
//  - aborting (shutdown) asks the worker to stop before it installs anything and kills it if
//    it does not exit within ABORT_GRACE_MS;
//  - a worker that dies leaves the repository valid: its temporary files are removed here, and
//    a pack it already renamed into place is complete (its objects are also in the old packs).
// A child process rather than a worker thread: it can be niced as a whole, crashes and runs out
// of memory on its own, and its heap is returned to the system when it exits.
import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { packObjectPool } from '../pack/pack-file.js';
import { workerEntry } from './worker-entry.js';

/** Tests only: where the worker process dies on purpose. */
export type WorkerFault = 'while-writing' | 'after-install';

interface JobBase {
  /** The data root (a node file system path) and the repository's git directory under it. */
  root: string;
  gitdir: string;
  /** The node id its temporary files carry (the parent's Storage.owner). */
  owner: string;
  /** Packs this server retired whose files still wait for deletion: the worker must not read them (a prune dropped objects from them). */
  ignore: string[];
  fault?: WorkerFault;
}

export type WorkerJob =
  // `bitmap`: then give the largest pack a bitmap in the same run (one start, the new pack's
  // index already open), except for the packs named in `skip` (known not to be closed)
  | (JobBase & { kind: 'repack'; factor?: number; all?: boolean; looseThreshold?: number; bitmap?: { skip: string[] } })
  | (JobBase & { kind: 'bitmap' })
  | (JobBase & { kind: 'prune'; expireMs: number; now?: number });

/**
 * `finish`: a prune waiting in `ready` may delete now (this process holds the locks that keep
 * pushes out until the worker ends); `abort`: stop before installing or deleting anything.
 */
/** `packCacheBytes`: the configured pack object cache, which the worker uses as its own. */
export type ToWorker = { type: 'job'; job: WorkerJob; packCacheBytes: number } | { type: 'abort' } | { type: 'finish' };
/** `ready`: a prune wrote its pack (if any) and waits for `finish` to delete. */
export type FromWorker = { type: 'done'; outcome: unknown } | { type: 'error'; message: string } | { type: 'ready'; pack: string | null };

const WORKER_NICE = 19;
const ABORT_GRACE_MS = 5_000;
const POLL_MS = 20;

let tail: Promise<unknown> = Promise.resolve();
let running: { pid: number; kind: WorkerJob['kind']; ready: boolean } | null = null;

/** Workers started so far, by job kind (diagnostics and tests). */
export const workerStarts: Record<WorkerJob['kind'], number> = { repack: 0, bitmap: 0, prune: 0 };

/** The pid of the worker running now (diagnostics and tests), or null. */
export function repackWorkerPid(): number | null {
  return running?.pid ?? null;
}

/** The worker running now: its pid, its job, and (prune) whether it waits for `finish`. Diagnostics and tests. */
export function runningWorker(): { readonly pid: number; readonly kind: WorkerJob['kind']; readonly ready: boolean } | null {
  return running;
}

/**
 * `job` in a worker process, after any worker already running; resolves with the worker's
 * outcome (its type is the job's), null when aborted. `onReady` answers a prune's `ready`.
 */
export function runInWorker<T>(job: WorkerJob, signal?: { readonly aborted: boolean }, onReady?: (pack: string | null, reply: (msg: ToWorker) => void) => void): Promise<T | null> {
  const run = tail.then(() => runOnce(job, signal, onReady));
  tail = run.catch(() => undefined);
  return run as Promise<T | null>;
}

function runOnce(job: WorkerJob, signal?: { readonly aborted: boolean }, onReady?: (pack: string | null, reply: (msg: ToWorker) => void) => void): Promise<unknown> {
  if (signal?.aborted) return Promise.resolve(null);
  const { file, execArgv } = workerEntry('repack-worker');
  const child = fork(file, [], { execArgv, stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'json' });
  workerStarts[job.kind]++;
  const pid = child.pid ?? null;
  running = pid === null ? null : { pid, kind: job.kind, ready: false };
  if (pid !== null) {
    try {
      os.setPriority(pid, WORKER_NICE);
    } catch {
      // not permitted here: it still runs off the event loop
    }
  }
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    if (stderr.length < 2048) stderr += d.toString('utf8');
  });
  return new Promise((resolve, reject) => {
    let reply: FromWorker | null = null;
    let spawnError: Error | null = null;
    let abortSent = false;
    let killTimer: NodeJS.Timeout | null = null;
    const poll = setInterval(() => {
      if (!signal?.aborted || abortSent) return;
      abortSent = true;
      send({ type: 'abort' });
      killTimer = setTimeout(() => child.kill('SIGKILL'), ABORT_GRACE_MS);
    }, POLL_MS);
    const send = (msg: ToWorker) => {
      if (child.connected) child.send(msg, () => undefined);
    };
    child.on('message', (m: FromWorker) => {
      if (m.type !== 'ready') reply = m;
      else if (onReady) {
        if (running) running.ready = true;
        onReady(m.pack, send);
      }
      else send({ type: 'abort' });
    });
    child.on('error', (err) => {
      spawnError = err;
    });
    child.on('close', (code, sig) => {
      clearInterval(poll);
      if (killTimer) clearTimeout(killTimer);
      running = null;
      const got = reply as FromWorker | null;
      if (got?.type === 'done') return resolve(got.outcome);
      void removeTemporaries(job.gitdir, pid).then(() => {
        if (got?.type === 'error') reject(new Error(`repack worker: ${got.message}`));
        else if (abortSent) resolve(null);
        else if (spawnError) reject(new Error(`repack worker could not start: ${(spawnError as Error).message}`));
        else reject(new Error(`repack worker exited with ${sig ?? `code ${code}`}${stderr ? `: ${stderr.trim().split('\n').slice(-3).join(' / ')}` : ''}`));
      });
    });
    send({ type: 'job', job, packCacheBytes: packObjectPool.maxBytes });
  });
}

/** A dead worker's temporary pack and index (named after its pid by pack-rewrite.ts). */
async function removeTemporaries(gitdir: string, pid: number | null): Promise<void> {
  if (pid === null) return;
  const packDir = path.join(gitdir, 'objects', 'pack');
  const mine = new RegExp(`^tmp_(pack|idx)_repack_${pid}_`);
  const names = await fs.promises.readdir(packDir).catch(() => [] as string[]);
  for (const name of names) if (mine.test(name)) await fs.promises.rm(path.join(packDir, name), { force: true });
}
