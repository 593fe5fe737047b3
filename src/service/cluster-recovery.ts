// Crash recovery on a cluster node (README, Running several nodes). Nodes share the data
// directory, so a node never removes another live node's work: temporary files carry their
// writer's node id (Storage.tempTag), and only those of nodes whose heartbeat has expired go
// (plus this node id's own, at start: a previous run under the same id is over, as the data
// directory's per-node-id lock guarantees). Lock files and index-less packs carry no owner and
// go only past the staleness bound. Removal is idempotent, so several survivors sweeping the
// same dead node at once is harmless; the dead node's row goes once its files are gone.
import type { Logger } from 'pino';
import type { NodeRegistry } from '../db/stores.js';
import { recoverDataDir, type RecoveryReport } from '../repo/recovery.js';
import type { Storage } from '../repo/storage.js';

export interface ClusterRecoveryOptions {
  nodeId: string;
  /** How often to look for dead nodes (the heartbeat interval). */
  intervalMs: number;
  /** A heartbeat older than this: the node is dead. */
  nodeExpiryMs: number;
  /** Locks and owner-less temporaries older than this are abandoned. */
  staleLockMs: number;
  /** Other cluster housekeeping run at each tick (expired throttle rows). */
  also?: () => Promise<void>;
  now?: () => number;
}

export class ClusterRecovery {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  /** When the last full sweep ran: without dead nodes, one per staleness bound catches old locks. */
  private lastSweep = 0;
  private readonly now: () => number;

  constructor(
    private readonly storage: Storage,
    private readonly registry: NodeRegistry,
    private readonly opts: ClusterRecoveryOptions,
    private readonly log: Logger,
  ) {
    this.now = opts.now ?? Date.now;
  }

  /** Before serving: this node id's leftovers from an earlier run, and dead nodes' files. */
  atStart(): Promise<RecoveryReport> {
    return this.sweep(true);
  }

  /** Sweeps when a node has died (or the staleness bound has passed), then forgets dead rows. */
  async tick(): Promise<void> {
    await this.opts.also?.();
    const { dead } = await this.registry.nodes(this.opts.nodeExpiryMs);
    if (dead.length === 0 && this.now() - this.lastSweep < this.opts.staleLockMs) return;
    await this.sweep(false);
  }

  async sweep(starting: boolean): Promise<RecoveryReport> {
    const { live, dead } = await this.registry.nodes(this.opts.nodeExpiryMs);
    const gone = new Set(dead);
    const alive = new Set(live);
    // starting: an earlier run under our id is over; running: our own files are never a dead
    // node's, even if a late heartbeat made our row look expired
    if (starting) {
      gone.add(this.opts.nodeId);
      alive.delete(this.opts.nodeId);
    } else {
      gone.delete(this.opts.nodeId);
      alive.add(this.opts.nodeId);
    }
    const startedAt = this.now();
    const report = await recoverDataDir(this.storage, {
      owner: (node) => (gone.has(node) ? 'dead' : alive.has(node) ? 'live' : 'unknown'),
      staleBefore: startedAt - this.opts.staleLockMs,
    });
    this.lastSweep = startedAt;
    if (report.removed.length) this.log.warn({ removed: report.removed, dead_nodes: dead }, 'removed leftovers of crashed nodes');
    const others = [...gone].filter((id) => id !== this.opts.nodeId);
    if (others.length) await this.registry.forget(others, this.opts.nodeExpiryMs);
    return report;
  }

  /** Ticks every intervalMs (never two at once) until stop(). */
  start(): void {
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.tick()
        .catch((err: unknown) => this.log.error({ err }, 'cluster crash recovery failed'))
        .finally(() => {
          this.running = null;
        });
    }, this.opts.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}
