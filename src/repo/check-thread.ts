// Push verification beside the indexer: the objects a large pack resolves to (commits, trees,
// tags; blobs need no look until the end) are copied in batches to a worker thread that runs
// ObjectChecks on them, so fsck and link collection (about half the CPU of indexing git.git)
// overlap with inflating, applying deltas and hashing on the request's thread, as C Git's
// index-pack checks in its resolving threads. A bounded number of batches is in flight: the
// indexer waits when the thread falls behind. A refusal in the thread fails the next object.
import { Worker } from 'node:worker_threads';
import { GitgateError, type ErrorCode } from '../errors.js';
import { limitYoungGeneration } from '../pack/low-memory.js';
import { OBJ_BLOB } from '../pack/types.js';
import type { CheckOptions, CheckState } from './object-checks.js';
import { workerEntry } from './worker-entry.js';

/** Packs at least this large are checked in a thread (below, starting one costs more than it saves). */
const DEFAULT_MIN_BYTES = 32 * 1024 * 1024;
const BATCH_BYTES = 1024 * 1024;
/** Batches queued or being checked: at most 4 x 1 MiB of copies held. */
const MAX_IN_FLIGHT = 4;
/** Record header: entry (u32), type code (u8), size (u32), id (20 bytes). */
const RECORD_HEADER = 29;

let minBytes = DEFAULT_MIN_BYTES;

/** Threads started (tests and diagnostics). */
export const checkThreadStarts = { count: 0 };

/** Tests: check packs of at least `bytes` in a thread (0: every pack), or restore the default. */
export function setCheckThreadMinBytes(bytes?: number): void {
  minBytes = bytes ?? DEFAULT_MIN_BYTES;
}

export function useCheckThread(packBytes: number): boolean {
  return packBytes >= minBytes;
}

/** Messages from the check worker. */
export type FromCheckWorker =
  | { type: 'report'; line: string }
  | { type: 'done'; buffer: ArrayBuffer }
  | { type: 'refused'; code: ErrorCode; params: Record<string, string | number> }
  | { type: 'failed'; message: string }
  | { type: 'state'; state: CheckState };

/** Messages to it. */
export type ToCheckWorker =
  | { type: 'batch'; buffer: ArrayBuffer; length: number }
  | { type: 'end' };

export class CheckThread {
  private readonly worker: Worker;
  private batch: Buffer | null = null;
  private used = 0;
  /** Batch buffers the worker handed back, filled again. */
  private readonly spare: Buffer[] = [];
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];
  private failure: Error | null = null;
  private readonly state: Promise<CheckState>;

  constructor(opts: CheckOptions) {
    const { file, execArgv } = workerEntry('check-worker');
    checkThreadStarts.count++;
    this.worker = new Worker(file, {
      execArgv,
      workerData: { shallow: [...(opts.shallow ?? [])], fsck: opts.fsck },
      stdout: false,
      stderr: false,
    });
    // a worker starting up resets V8's flags to the command line's: without this the young
    // generation grows to 32 MiB again (measured: +30 MiB resident on git.git's push)
    this.worker.once('online', limitYoungGeneration);
    this.state = new Promise<CheckState>((resolve, reject) => {
      this.worker.on('message', (msg: FromCheckWorker) => {
        switch (msg.type) {
          case 'report':
            opts.onReport?.(msg.line);
            return;
          case 'done':
            this.inFlight--;
            if (this.spare.length < 2) this.spare.push(Buffer.from(msg.buffer));
            this.waiting.shift()?.();
            return;
          case 'refused':
            return this.fail(new GitgateError(msg.code, msg.params), reject);
          case 'failed':
            return this.fail(new Error(`push check thread: ${msg.message}`), reject);
          case 'state':
            resolve(msg.state);
        }
      });
      this.worker.on('error', (err) => this.fail(new Error(`push check thread: ${err.message}`), reject));
      this.worker.on('exit', (code) => this.fail(new Error(`push check thread exited (code ${code})`), reject));
    });
    this.state.catch(() => undefined); // surfaced by check() or finish()
  }

  /** Queue an object for the checks; a promise when the thread is behind (wait before the next one). */
  check(i: number, oid: Buffer, code: number, content: Buffer): void | Promise<void> {
    if (this.failure) throw this.failure;
    if (code === OBJ_BLOB) return; // ObjectChecks skips them too
    const need = RECORD_HEADER + content.length;
    if (this.batch && this.used + need > this.batch.length) this.flush();
    if (!this.batch) {
      const spare = this.spare.pop();
      this.batch = spare && spare.length >= need ? spare : Buffer.allocUnsafeSlow(Math.max(BATCH_BYTES, need));
    }
    const b = this.batch;
    let at = this.used;
    at = b.writeUInt32LE(i, at);
    at = b.writeUInt8(code, at);
    at = b.writeUInt32LE(content.length, at);
    at += oid.copy(b, at, 0, 20);
    at += content.copy(b, at);
    this.used = at;
    if (this.inFlight >= MAX_IN_FLIGHT) return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Everything queued checked: what the thread collected (throws the refusal, if any). */
  async finish(): Promise<CheckState> {
    if (this.failure) throw this.failure;
    this.flush();
    this.post({ type: 'end' });
    return this.state;
  }

  close(): void {
    this.failure ??= new Error('push check thread closed');
    void this.worker.terminate();
  }

  private flush(): void {
    if (!this.batch || this.used === 0) return;
    const buffer = this.batch.buffer as ArrayBuffer; // allocUnsafeSlow: its own, transferable
    this.post({ type: 'batch', buffer, length: this.used }, [buffer]);
    this.inFlight++;
    this.batch = null;
    this.used = 0;
  }

  private post(msg: ToCheckWorker, transfer: ArrayBuffer[] = []): void {
    this.worker.postMessage(msg, transfer);
  }

  private fail(err: Error, reject: (err: Error) => void): void {
    this.failure ??= err;
    reject(this.failure);
    for (const wake of this.waiting.splice(0)) wake();
  }
}
