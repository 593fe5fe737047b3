// Work in flight, by kind: HTTP requests, clones/fetches (upload-pack) and pushes
// (receive-pack). Feeds the /metrics gauges and lets shutdown wait for running work.
export type ActivityKind = 'request' | 'clone' | 'push';

export class Activity {
  private readonly counts: Record<ActivityKind, number> = { request: 0, clone: 0, push: 0 };
  private readonly ended: Record<ActivityKind, number> = { request: 0, clone: 0, push: 0 };
  private waiters: (() => void)[] = [];

  /** Mark one unit of work as started; call the returned function (idempotent) when it ends. */
  begin(kind: ActivityKind): () => void {
    this.counts[kind]++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.counts[kind]--;
      this.ended[kind] = Date.now();
      if (this.total === 0) for (const w of this.waiters.splice(0)) w();
    };
  }

  count(kind: ActivityKind): number {
    return this.counts[kind];
  }

  /** When (ms since the epoch) work of this kind last ended; 0 if none has. */
  lastEnded(kind: ActivityKind): number {
    return this.ended[kind];
  }

  get total(): number {
    return this.counts.request + this.counts.clone + this.counts.push;
  }

  /** Resolves when nothing is in flight. */
  idle(): Promise<void> {
    if (this.total === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}
