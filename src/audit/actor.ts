// Who is acting in the current request: set once by the authenticate middleware and read
// wherever an audited change happens (ref moves in the content service, token minting and
// revocation), so those layers need no extra parameters.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { AuditLog } from './audit-log.js';

export interface Actor {
  /** The authenticated token's public id (never its secret). */
  tokenId: string | null;
  /** The client address as the server saw it. */
  ip: string | null;
  /** Where changes made in this request are recorded. */
  audit?: AuditLog;
}

const store = new AsyncLocalStorage<Actor>();

export function runAsActor<T>(actor: Actor, fn: () => T): T {
  return store.run(actor, fn);
}

export function currentActor(): Actor | null {
  return store.getStore() ?? null;
}
