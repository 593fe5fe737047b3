// Background work done on the event loop (prune, and repacks of in-memory repositories, which
// a worker process cannot reach) gives way to requests: while a clone, fetch or push is
// running anywhere in the process, it pauses between entries (up to MAX_YIELD_MS per run, so a
// server that is never idle still gets its packs consolidated).

let foreground = 0;
const MAX_YIELD_MS = 30_000;
const YIELD_STEP_MS = 15;

/** Mark a request (clone, fetch, push) as running; call the returned function when it ends. */
export function beginForeground(): () => void {
  foreground++;
  let done = false;
  return () => {
    if (done) return;
    done = true;
    foreground--;
  };
}

export class Courtesy {
  private waited = 0;
  constructor(
    private readonly enabled: boolean,
    private readonly signal?: { readonly aborted: boolean },
  ) {}
  /** Resolves at once when nothing is in the foreground; else after it is (or the budget is spent). */
  async yield(): Promise<void> {
    while (this.busy) {
      await new Promise((r) => setTimeout(r, YIELD_STEP_MS));
      this.waited += YIELD_STEP_MS;
    }
  }
  get aborted(): boolean {
    return this.signal?.aborted === true;
  }
  get busy(): boolean {
    return this.enabled && foreground > 0 && this.waited < MAX_YIELD_MS && !this.signal?.aborted;
  }
}
