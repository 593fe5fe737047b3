// Wakes whoever waits for new events: at once for events recorded in this process (the audit
// log's after-commit hook), and within pollMs for events another process wrote to the same
// database (the CLI minting or revoking a token while the server runs).
import type { AuditLog } from '../audit/audit-log.js';

export type WaitResult = 'event' | 'timeout' | 'stopped' | 'aborted';

export class EventBus {
  private readonly listeners = new Set<() => void>();
  private timer: NodeJS.Timeout | null = null;
  private seen = 0;
  private polling = false;
  stopped = false;

  constructor(
    private readonly audit: AuditLog,
    private readonly pollMs = 1000,
  ) {
    audit.subscribe(() => this.emit());
  }

  /** Starts watching the database for events written by other processes. */
  start(): void {
    if (this.timer || this.stopped) return;
    void this.audit.latestId().then(
      (id) => (this.seen = Math.max(this.seen, id)),
      () => undefined,
    );
    this.timer = setInterval(() => {
      if (this.polling) return;
      this.polling = true;
      this.audit
        .latestId()
        .then((latest) => {
          if (latest <= this.seen) return;
          this.seen = latest;
          this.emit();
        })
        .catch(() => undefined) // the database is closing, or briefly unavailable: poll again
        .finally(() => (this.polling = false));
    }, this.pollMs);
    this.timer.unref();
  }

  /** Wakes every waiter for good (shutdown): feeds answer and close, SSE streams end. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const l of [...this.listeners]) l();
  }

  /** `listener` runs after new events are committed, and once on stop. */
  onEvent(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves on the next event, after `timeoutMs`, on stop or when `signal` aborts. */
  wait(timeoutMs: number, signal?: AbortSignal): Promise<WaitResult> {
    if (this.stopped) return Promise.resolve('stopped');
    if (signal?.aborted) return Promise.resolve('aborted');
    return new Promise((resolve) => {
      const done = (result: WaitResult) => {
        clearTimeout(timer);
        off();
        signal?.removeEventListener('abort', onAbort);
        resolve(result);
      };
      const onAbort = () => done('aborted');
      const off = this.onEvent(() => done(this.stopped ? 'stopped' : 'event'));
      const timer = setTimeout(() => done('timeout'), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private emit(): void {
    void this.audit.latestId().then(
      (id) => (this.seen = Math.max(this.seen, id)),
      () => undefined, // the database is closing: waiters re-read and find out
    );
    for (const l of [...this.listeners]) l();
  }
}
