// Long loops over client-supplied lists (have lines, commands) await values that are often
// already resolved, which never returns to the event loop; this lets other requests run.

/** Resolves on the next turn of the event loop. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Counts iterations and yields to the event loop every `every` of them. */
export class Yielder {
  private n = 0;
  constructor(private readonly every = 512) {}

  async tick(): Promise<void> {
    if (++this.n % this.every === 0) await nextTurn();
  }
}
