// Background upkeep of one repository (Repository.maintenance): after pushes and API commits,
// prune (when configured) then a geometric repack, one run at a time, and the replaced files
// deleted after a grace period. One push makes one request (batch). Apart from repack.ts and
// prune.ts (whose work runs in the maintenance worker process, repack-runner.ts), which it
// drives and which know nothing of scheduling.
// A run holds the maintenance lock (maintenanceLockKey, through Repository.maintenanceLocker): in a
// cluster it spans nodes, and a run finding it held elsewhere is skipped (that node is doing
// it) and retried later with a growing delay, since that node's run may have started before
// this node's push landed. With packRetireGraceMs (cluster mode) the replaced packs' files are renamed aside rather
// than deleted, since other nodes may still be streaming from them, and a later run (on any
// node) deletes those past the grace.
import path from 'node:path';
import { isGitgateError } from '../errors.js';
import { releaseOnce } from '../pack/release-once.js';
import { bitmapAfterRepack } from './bitmap-write.js';
import { prune, type PruneResult } from './prune.js';
import { deleteGarbage, repack, retireGarbage, sweepRetired, type RepackResult } from './repack.js';
import { repoLockKey } from './repo-lock.js';
import type { Repository } from './repository.js';

export interface MaintenanceOptions {
  /** Wait this long after a request before repacking, so a burst of pushes shares one run (default 50 ms). */
  delayMs?: number;
  /**
   * Keep replaced pack and loose files this long before deleting them (default 60 s), so a C Git
   * process reading the repository meanwhile (an fsck, a backup) does not see them vanish.
   * gitgate itself stops using them at once.
   */
  deleteDelayMs?: number;
  /** Background failures (the repository stays as it was; the next run retries). */
  onError?: (err: unknown) => void;
  /** Told of every run: done (under the lock), or skipped (another node held it). */
  onRun?: (outcome: 'done' | 'skipped') => void;
  /** Off: schedule() does nothing (repack() still works). */
  enabled?: boolean;
  /** First retry of a skipped run after this long, doubling up to 60 s, at most 8 tries (default 1 s). */
  retryDelayMs?: number;
  /** Unreachable objects older than this are pruned (at most once a day, or once per grace if shorter); unset: never. */
  pruneExpireMs?: number;
  /**
   * Cluster mode: replaced packs are renamed to `<file>.retired-<ms>` instead of deleted, and
   * deleted by a run this long after (longer than any request on any node); unset: deleted.
   */
  packRetireGraceMs?: number;
}

const MAX_RETRIES = 8;

/** The lock one maintenance run holds (not the write lock: pushes and REST writes go on). */
export function maintenanceLockKey(gitdir: string): string {
  return `${repoLockKey(gitdir)}#maintenance`;
}

/** Pruning walks every object: at most this often per repository (or once per grace, if shorter). */
const PRUNE_INTERVAL_MS = 24 * 3600 * 1000;
/**
 * When the repository was last pruned (ms since the epoch, as text), kept in the repository so
 * that a restart (or another node) does not prune again: a walk of every object, seconds of CPU
 * for a large repository, was repeated on the first push after every start.
 */
export const PRUNED_AT_FILE = 'gitgate-pruned-at';

interface GarbageBatch {
  due: number;
  files: string[];
  packs: string[];
}

/**
 * Background repacking for one repository: schedule() after anything that adds packs or loose
 * objects; at most one run at a time, and a request during a run causes one more run after it.
 */
export class Maintenance {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private closed = false;
  private readonly signal = { aborted: false };
  private garbage: GarbageBatch[] = [];
  private garbageTimer: NodeJS.Timeout | null = null;
  private deleting: Promise<void> = Promise.resolve();
  /** Requests that reached the scheduler (after batching), completed runs, the last results (diagnostics and tests). */
  requests = 0;
  runs = 0;
  /** Runs skipped because another holder (another node) had the maintenance lock. */
  skipped = 0;
  lastResult: RepackResult | null = null;
  lastPrune: PruneResult | null = null;
  private lastPruneAt = -Infinity;
  private holds = 0;
  private heldRequest = false;
  /** Consecutive skipped runs; the pending timer is a retry while this is above zero. */
  private skipStreak = 0;
  /** What the next run does: a repack (which ends with the bitmap), or only the bitmap. */
  private repackWanted = false;
  private bitmapWanted = false;
  /** Bitmap-only runs done (scheduleBitmap). */
  bitmapRuns = 0;

  constructor(
    private readonly repo: Repository,
    private readonly opts: MaintenanceOptions = {},
  ) {}

  /** Ask for a repack soon. Cheap; bursts coalesce. */
  schedule(): void {
    if (this.closed || this.opts.enabled === false) return;
    if (this.holds > 0) {
      this.heldRequest = true;
      return;
    }
    this.requests++;
    this.repackWanted = true;
    this.request();
  }

  /**
   * Ask for a reachability bitmap of the largest pack, without a repack: a full clone had to
   * walk the history (a repository copied in or imported with a pack and no bitmap would else
   * be walked by every clone until its next push). Nothing happens when it has one already.
   */
  scheduleBitmap(): void {
    if (this.closed || this.opts.enabled === false) return;
    this.bitmapWanted = true;
    this.request();
  }

  private request(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.start();
    }, this.opts.delayMs ?? 50);
    this.timer.unref?.();
  }

  /**
   * Run `fn` (one push) with schedule() held back: however many times it asks, one request is
   * made once it ends, so a push that adds a pack and then moves refs starts one run, not two.
   */
  async batch<T>(fn: () => Promise<T>): Promise<T> {
    const release = this.hold();
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /** schedule() held back, as in batch, until the returned function is called (once). */
  hold(): () => void {
    this.holds++;
    return releaseOnce(() => {
      this.holds--;
      if (this.holds === 0 && this.heldRequest) {
        this.heldRequest = false;
        this.schedule();
      }
    });
  }

  /**
   * Resolves once nothing is scheduled or running (a pending delay is cut short) and replaced
   * files are deleted (their grace period is cut short too).
   */
  async idle(): Promise<void> {
    for (;;) {
      if (this.timer && this.skipStreak === 0) {
        clearTimeout(this.timer);
        this.timer = null;
        this.start();
      }
      if (!this.running) break;
      await this.running;
    }
    await this.collect(Infinity);
  }

  /** Stop: no new runs; a run in progress stops at its next step, before installing anything. */
  async close(): Promise<void> {
    this.closed = true;
    this.signal.aborted = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
    await this.collect(Infinity);
  }

  private start(): void {
    if (this.running || this.closed) return;
    this.running = (async () => {
      do {
        this.again = false;
        const onError = (err: unknown) => {
          if (!this.closed) (this.opts.onError ?? defaultOnError)(err);
        };
        try {
          await this.repo.maintenanceLocker.tryLock(maintenanceLockKey(this.repo.gitdir), () => this.runOnce(onError));
          this.skipStreak = 0;
          this.opts.onRun?.('done');
        } catch (err) {
          if (!isGitgateError(err, 'REPO_LOCKED')) onError(err);
          else {
            this.skipped++;
            this.opts.onRun?.('skipped');
            this.again = false;
            this.retryLater();
          }
        }
      } while (this.again && !this.closed);
    })().finally(() => {
      this.running = null;
    });
  }

  /** After a skip: try again later, as a new request would (a push meanwhile coalesces with it). */
  private retryLater(): void {
    if (this.closed || this.timer || this.skipStreak >= MAX_RETRIES) {
      this.skipStreak = 0;
      return;
    }
    const delay = Math.min((this.opts.retryDelayMs ?? 1000) * 2 ** this.skipStreak, 60_000);
    this.skipStreak++;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.start();
    }, delay);
    this.timer.unref?.();
  }

  /** One run, under the maintenance lock; its steps report their own failures. */
  private async runOnce(onError: (err: unknown) => void): Promise<void> {
    const repackWanted = this.repackWanted;
    const bitmapWanted = this.bitmapWanted;
    this.repackWanted = this.bitmapWanted = false;
    if (!repackWanted && bitmapWanted) {
      try {
        await bitmapAfterRepack(this.repo, { signal: this.signal, inline: this.repo.storage.kind !== 'fs' });
        this.bitmapRuns++;
      } catch (err) {
        onError(err);
      }
      return;
    }
    const grace = this.opts.packRetireGraceMs;
    if (grace !== undefined) {
      try {
        await sweepRetired(this.repo, grace);
      } catch (err) {
        onError(err);
      }
    }
    // prune first: garbage in old packs goes before a roll-up would make it young again
    const expireMs = this.opts.pruneExpireMs;
    if (expireMs !== undefined && Date.now() - (await this.prunedAt()) >= Math.min(expireMs, PRUNE_INTERVAL_MS)) {
      // also when it fails: a broken repository is not re-walked on every push
      await this.setPrunedAt(Date.now());
      try {
        this.lastPrune = await prune(this.repo, { expireMs, signal: this.signal, courteous: true, defer: (files, packs) => this.defer(files, packs) });
      } catch (err) {
        onError(err);
      }
    }
    try {
      this.lastResult = await repack(this.repo, {
        signal: this.signal,
        courteous: true,
        defer: (files, packs) => this.defer(files, packs),
      });
      this.runs++;
    } catch (err) {
      onError(err);
    }
  }

  /**
   * The last prune's start: this process's, else the one recorded in the repository. A
   * repository without a record starts its interval now (it is new, or older than the record:
   * its first prune comes one interval later), so a first push does not walk every object.
   */
  private async prunedAt(): Promise<number> {
    if (this.lastPruneAt === -Infinity) {
      const text = await this.repo.storage.readFileOrNull(path.join(this.repo.gitdir, PRUNED_AT_FILE)).catch(() => null);
      const at = text ? Number(text.toString('latin1').trim()) : NaN;
      if (text === null) await this.setPrunedAt(Date.now());
      // unreadable or in the future (a clock set back): prune
      else if (Number.isFinite(at) && at <= Date.now()) this.lastPruneAt = at;
    }
    return this.lastPruneAt;
  }

  private async setPrunedAt(at: number): Promise<void> {
    this.lastPruneAt = at;
    try {
      await this.repo.storage.writeFileAtomic(path.join(this.repo.gitdir, PRUNED_AT_FILE), `${at}\n`);
    } catch {
      // only this process remembers it then
    }
  }

  private defer(files: string[], packs: string[]): void {
    if (files.length === 0 && packs.length === 0) return;
    // in cluster mode the retire grace bounds this too: renaming aside is itself a delay
    const delay = Math.min(this.opts.deleteDelayMs ?? 60_000, this.opts.packRetireGraceMs ?? Infinity);
    this.garbage.push({ due: Date.now() + delay, files, packs });
    if (!this.garbageTimer) {
      this.garbageTimer = setTimeout(() => {
        this.garbageTimer = null;
        void this.collect(Date.now());
      }, delay);
      this.garbageTimer.unref?.();
    }
  }

  /** Delete the batches due by `now`; re-arm the timer for the rest. */
  private collect(now: number): Promise<void> {
    const run = this.deleting.then(async () => {
      const due = this.garbage.filter((b) => b.due <= now);
      this.garbage = this.garbage.filter((b) => b.due > now);
      for (const batch of due) {
        try {
          if (this.opts.packRetireGraceMs !== undefined) await retireGarbage(this.repo, batch.files, batch.packs);
          else await deleteGarbage(this.repo, batch.files, batch.packs);
        } catch (err) {
          if (!this.closed) (this.opts.onError ?? defaultOnError)(err);
        }
      }
      if (this.garbageTimer) clearTimeout(this.garbageTimer);
      this.garbageTimer = null;
      const next = this.garbage[0];
      if (next && !this.closed) {
        this.garbageTimer = setTimeout(() => {
          this.garbageTimer = null;
          void this.collect(Date.now());
        }, Math.max(0, next.due - Date.now()));
        this.garbageTimer.unref?.();
      }
    });
    this.deleting = run.catch(() => undefined);
    return run;
  }
}

function defaultOnError(err: unknown): void {
  process.stderr.write(`gitgate: background repack failed: ${(err as Error)?.message ?? String(err)}\n`);
}
