// Who is acting in the current request: set once by the authenticate middleware and read by
// the audit log when it records a change (the log itself is always passed explicitly).
import { AsyncLocalStorage } from 'node:async_hooks';

export interface Actor {
  /** The authenticated token's public id (never its secret). */
  tokenId: string | null;
  /** The client address as the server saw it. */
  ip: string | null;
}

const store = new AsyncLocalStorage<Actor>();

export function runAsActor<T>(actor: Actor, fn: () => T): T {
  return store.run(actor, fn);
}

export function currentActor(): Actor | null {
  return store.getStore() ?? null;
}
