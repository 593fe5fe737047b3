// Pruning deletes objects nothing reaches; a push may rely on such an object (a thin-pack base,
// a link its connectivity check found) between ingesting its pack and moving its refs. Pushes
// hold this guard shared for that span; prune's deletion runs exclusive, only when no push is
// in that span. No writer preference: a long upload delays the prune, never other pushes.
import { nextTurn } from '../event-loop.js';

export class ObjectUseGuard {
  private users = 0;
  private excluding = false;
  private waiters: (() => void)[] = [];
  private drained: (() => void) | null = null;
  private exclusiveWaiters = 0;

  /** Whether an exclusive caller waits for shared holders to leave (diagnostics and tests). */
  get exclusiveWaiting(): boolean {
    return this.exclusiveWaiters > 0;
  }

  async shared<T>(fn: () => Promise<T>): Promise<T> {
    while (this.excluding) await new Promise<void>((r) => this.waiters.push(r));
    this.users++;
    try {
      return await fn();
    } finally {
      this.users--;
      if (this.users === 0) this.drained?.();
    }
  }

  /** Run `fn` with no shared holder; null (fn not run) when `signal` aborts while waiting. */
  async exclusive<T>(fn: () => Promise<T>, signal?: { readonly aborted: boolean }): Promise<T | null> {
    while (this.excluding) await nextTurn();
    this.exclusiveWaiters++;
    try {
      while (this.users > 0) {
        if (signal?.aborted) return null;
        // woken by the last holder leaving, or after a turn to look at the signal again
        await new Promise<void>((resolve) => {
          this.drained = resolve;
          setTimeout(resolve, 50).unref?.();
        });
        this.drained = null;
      }
    } finally {
      this.exclusiveWaiters--;
    }
    if (signal?.aborted) return null;
    this.excluding = true;
    try {
      return await fn();
    } finally {
      this.excluding = false;
      const waiting = this.waiters;
      this.waiters = [];
      for (const wake of waiting) wake();
    }
  }
}
