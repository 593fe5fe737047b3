// One ref command — `<old> <new> <ref>`, the zero id for "none" — with its result, and the
// hook interface every ref rule implements (JGit's ReceiveCommand and PreReceiveHook). Pushes
// (protocol/receive-pack.ts) and REST ref writes (service/refs) build these and run the same
// hooks, under the repository lock, before the compare-and-swap.
import { oidOrNull, ZERO_OID } from '../oid.js';
import { CAS_FAILURES, REF_OK, refResultOf, type RefChange, type RefRejection, type RefResult } from './ref-result.js';
import type { RefUpdate, RefUpdateResult } from './ref-database.js';
import type { Repository } from './repository.js';

export class ReceiveCommand {
  result: RefResult = REF_OK;

  constructor(
    readonly ref: string,
    readonly oldOid: string,
    readonly newOid: string,
  ) {}

  get change(): RefChange {
    return this.oldOid === ZERO_OID ? 'create' : this.newOid === ZERO_OID ? 'delete' : 'update';
  }

  get ok(): boolean {
    return this.result.kind === 'OK';
  }

  /** The first rejection stands (checks run in order: the earliest reason is the one shown). */
  reject(result: RefRejection): void {
    if (this.result.kind === 'OK') this.result = result;
  }
}

/** A ref rule: marks the commands it refuses (`cmd.reject`); sees only commands still OK. */
export interface PreReceiveHook {
  onPreReceive(repo: Repository, commands: readonly ReceiveCommand[]): Promise<void>;
}

export async function runPreReceiveHooks(hooks: readonly PreReceiveHook[], repo: Repository, commands: readonly ReceiveCommand[]): Promise<void> {
  for (const hook of hooks) {
    const pending = commands.filter((c) => c.ok);
    if (pending.length === 0) return;
    await hook.onPreReceive(repo, pending);
  }
}

/** The ref store's answer for `update` as a result. A lost compare-and-swap says what the ref
 *  holds now (read again: the caller holds the repository lock, so it is what the swap saw). */
export async function updateResult(repo: Repository, update: Pick<RefUpdate, 'name' | 'oldOid'>, r: RefUpdateResult | undefined): Promise<RefResult> {
  if (!r) return { kind: 'REJECTED_OTHER', reason: 'failed to update ref' };
  if (r.ok || !CAS_FAILURES.has(r.code ?? '')) return refResultOf(r);
  const actual = r.code === 'missing' ? null : await repo.refs.resolve(update.name).catch(() => null);
  return refResultOf(r, { expected: oidOrNull(update.oldOid), actual });
}
