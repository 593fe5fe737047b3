// The refs of one repository, as protocol and service code see them (JGit's RefDatabase):
// resolve, symbolic refs, listing by prefix, and one atomic compare-and-swap batch. No reflog.
// Implementations: RefStore (refs.ts: C Git's files backend over any Storage) and
// InMemoryRefDatabase (memory-refs.ts: a Map). The batch rules both apply before touching their
// state are here, so a ref refused by one is refused by the other with the same words.
import { GitgateError } from '../errors.js';
import { isOid } from '../oid.js';
import { isStorableRefName, isValidRefName, refNameTooLong } from './ref-names.js';

export interface RefEntry {
  name: string;
  oid: string;
}

export interface PeeledRefEntry extends RefEntry {
  /** What the store knows it peels to: an id, null (not a tag), undefined (not known). */
  peeled: string | null | undefined;
}

export interface RefUpdate {
  name: string;
  /** null or ZERO_OID: the ref must not exist. */
  oldOid: string | null;
  /** null or ZERO_OID: delete the ref. */
  newOid: string | null;
}

/** Why an update failed, for mapping to HTTP statuses (locked -> 423, stale/exists/missing -> 409). */
export type RefFailureCode = 'invalid' | 'locked' | 'stale' | 'exists' | 'missing' | 'conflict' | 'atomic' | 'error';

export type RefUpdateResult =
  | { name: string; ok: true }
  | { name: string; ok: false; reason: string; code?: RefFailureCode };

export type RefFailure = { name: string; ok: false; reason: string; code: RefFailureCode };

export interface RefDatabase {
  /** The object id `name` ('HEAD' or 'refs/...') points at, following symbolic refs; null if unborn/absent. */
  resolve(name: string): Promise<string | null>;
  /** The target of a symbolic ref ('refs/heads/main' for a usual HEAD), null when `name` is not one. */
  readSymbolic(name: string): Promise<string | null>;
  /** Point `name` at `target`, atomically. Throws BAD_REF_NAME, VALIDATION (a D/F clash) or REF_LOCKED. */
  setSymbolic(name: string, target: string): Promise<void>;
  /** Refs whose names start with `prefix`, symbolic ones resolved (dangling ones left out), sorted bytewise as git does. */
  list(prefix?: string): Promise<RefEntry[]>;
  /** list() with what each ref is known to peel to (the same array while no ref moved: do not modify it). */
  listPeeled(prefix?: string): Promise<readonly Readonly<PeeledRefEntry>[]>;
  /**
   * Compare-and-swap on the old values. Non-atomic: each ref succeeds or fails on its own.
   * Atomic: if any ref fails, none changes. Results come back in input order.
   */
  update(updates: RefUpdate[], opts?: { atomic?: boolean }): Promise<RefUpdateResult[]>;
  /** Give a repository without refs all of `entries` at once (a fork); refuses when any ref exists. */
  seed(entries: RefEntry[]): Promise<void>;
}

export const MAX_SYMREF_DEPTH = 5; // C Git's SYMREF_MAXDEPTH

export function refFailure(name: string, code: RefFailureCode, reason: string): RefFailure {
  return { name, ok: false, reason, code };
}

/** A caller bug (not a ref failure): every update must say both values. */
export function assertUpdateShapes(updates: RefUpdate[]): void {
  for (const u of updates) {
    if (u.oldOid === undefined || u.newOid === undefined) {
      throw new GitgateError('VALIDATION', { detail: `ref update for ${u.name} needs oldOid and newOid (null for none)` });
    }
  }
}

/** A name resolve/readSymbolic/setSymbolic accept: 'HEAD' or a valid name under refs/. */
export function assertRefName(name: string): void {
  if (!isStorableRefName(name)) throw new GitgateError('BAD_REF_NAME', { ref: name });
}

/** A symbolic ref's target: a valid name under refs/. */
export function assertSymrefTarget(target: string): void {
  if (!target.startsWith('refs/') || !isValidRefName(target)) throw new GitgateError('BAD_REF_NAME', { ref: target });
}

/** seed() input: names under refs/ and valid ids. */
export function assertSeedEntries(entries: RefEntry[]): void {
  for (const e of entries) {
    if (!e.name.startsWith('refs/') || !isValidRefName(e.name) || !isOid(e.oid)) throw new GitgateError('BAD_REF_NAME', { ref: e.name });
  }
}

/** Per-update problems found before touching any state: bad names/ids, duplicates, D/F within the batch. */
export function staticChecks(updates: RefUpdate[]): (RefUpdateResult | undefined)[] {
  const results: (RefUpdateResult | undefined)[] = updates.map(() => undefined);
  const firstIndex = new Map<string, number>();
  updates.forEach((u, i) => {
    if (!u.name.startsWith('refs/') || !isValidRefName(u.name)) results[i] = refFailure(u.name, 'invalid', 'funny refname');
    else if (refNameTooLong(u.name)) results[i] = refFailure(u.name, 'invalid', refNameTooLong(u.name)!);
    else if (![u.oldOid, u.newOid].every((o) => o === null || isOid(o))) {
      const bad = [u.oldOid, u.newOid].find((o) => o !== null && !isOid(o));
      results[i] = refFailure(u.name, 'invalid', `invalid object name '${bad}'`);
    } else if (firstIndex.has(u.name)) results[i] = refFailure(u.name, 'invalid', `multiple updates for ref '${u.name}' not allowed`);
    else firstIndex.set(u.name, i);
  });
  updates.forEach((u, i) => {
    const parts = u.name.split('/');
    for (let k = 2; k < parts.length; k++) {
      const ancestor = parts.slice(0, k).join('/');
      const j = firstIndex.get(ancestor);
      if (j === undefined) continue;
      const reason = `cannot process '${ancestor}' and '${u.name}' at the same time`;
      results[i] ??= refFailure(u.name, 'conflict', reason);
      results[j] ??= refFailure(ancestor, 'conflict', reason);
    }
  });
  return results;
}

/** An atomic batch that failed: the failures stand, every other ref says 'atomic'. */
export function failAtomically(results: (RefUpdateResult | undefined)[], updates: RefUpdate[]): RefUpdateResult[] {
  return updates.map((u, i) => {
    const r = results[i];
    return r && !r.ok ? r : refFailure(u.name, 'atomic', 'atomic transaction failed');
  });
}

/** The compare-and-swap verdict for one ref holding `current` (null: absent); null when it may proceed. */
export function casFailure(name: string, oldOid: string | null, current: string | null): RefFailure | null {
  if (oldOid === null && current !== null) return refFailure(name, 'exists', `cannot lock ref '${name}': reference already exists`);
  if (oldOid !== null && current === null) return refFailure(name, 'missing', `cannot lock ref '${name}': reference is missing but expected ${oldOid}`);
  if (oldOid !== null && current !== oldOid) return refFailure(name, 'stale', `cannot lock ref '${name}': is at ${current} but expected ${oldOid}`);
  return null;
}

/** C Git's D/F rule as a message: `existing` is in the way of `name`. */
export function dfConflict(name: string, existing: string): string {
  return `cannot lock ref '${name}': '${existing}' exists; cannot create '${name}'`;
}
