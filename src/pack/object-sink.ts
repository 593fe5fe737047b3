// Where the indexer hands each resolved object (push checks): only the types the consumer
// asked for, and with backpressure that need not stall the indexer. A consumer whose queue is
// full returns a promise; the indexer waits for it only before handing over the next object,
// so meanwhile it can resolve objects the consumer does not look at (blobs, for push checks):
// a check thread busy with trees overlaps with blob deltas instead of idling the indexer.

/**
 * Each object of the pack once its id and content are known (content null for an object too
 * large to hold, > SYNC_INFLATE_LIMIT): whole objects during the scan, deltas as they resolve.
 * `oid` and `content` are valid during the call only (content may sit in a buffer the indexer
 * reuses): copy them to keep them. A promise returned (the consumer's queue is full) is
 * awaited before the next object is handed over.
 */
export type OnObject = (entry: number, oid: Buffer, code: number, content: Buffer | null) => void | Promise<void>;

export class ObjectSink {
  private pending: Promise<void> | null = null;
  private settled = true;

  constructor(
    private readonly onObject?: OnObject,
    /** Type codes (1-4) the consumer wants; all when absent. */
    private readonly types?: ReadonlySet<number>,
  ) {}

  /** Does the consumer see objects of this type? */
  wants(code: number): boolean {
    return this.onObject !== undefined && (this.types === undefined || this.types.has(code));
  }

  /** The consumer's last promise has not settled: a good moment for objects it does not want. */
  get backedUp(): boolean {
    return !this.settled;
  }

  /** Hand over one object; a promise when the previous hand-over must settle first (await it). */
  deliver(entry: number, oid: Buffer, code: number, content: Buffer | null): void | Promise<void> {
    if (!this.wants(code)) return;
    const pending = this.pending;
    if (!pending) return this.call(entry, oid, code, content);
    this.pending = null;
    return pending.then(() => this.call(entry, oid, code, content));
  }

  /** Wait for the consumer to take everything handed over. */
  async drain(): Promise<void> {
    const pending = this.pending;
    this.pending = null;
    if (pending) await pending;
  }

  private call(entry: number, oid: Buffer, code: number, content: Buffer | null): void {
    const wait = this.onObject!(entry, oid, code, content);
    if (!wait) return;
    this.pending = wait;
    this.settled = false;
    const done = () => {
      if (this.pending === wait || this.pending === null) this.settled = true;
    };
    wait.then(done, done);
  }
}
