// What happened to one ref command (a pushed `<old> <new> <ref>` line or a REST ref write), as
// data: JGit's ReceiveCommand.Result with the facts each outcome needs. Checks and the ref
// store produce these; two renderers read them: `refResultText` below (the `ng <ref> <reason>`
// wording C Git prints, and the reason of a REST 403/409) and service/refs/ref-errors.ts (the
// REST API's coded errors). Nothing parses the text back.
import { shortOid } from '../oid.js';

export type RefChange = 'create' | 'update' | 'delete';

export type RefResult =
  | { kind: 'OK' }
  /** Not a name a push may write (C Git's "funny refname"), or too long, or a bad id. */
  | { kind: 'REJECTED_BAD_NAME'; reason: string }
  | { kind: 'REJECTED_CURRENT_BRANCH' }
  | { kind: 'REJECTED_MISSING_OBJECT' }
  | { kind: 'REJECTED_NOT_COMMIT'; oid: string; type: string | null }
  | { kind: 'REJECTED_SHALLOW' }
  /** Outside the token's ref scope. */
  | { kind: 'REJECTED_SCOPE'; ref: string; change: RefChange; scope: readonly string[] }
  /** A protected ref, and the token is not an admin. */
  | { kind: 'REJECTED_PROTECTED'; ref: string; change: RefChange }
  /** A new ref differing only in case from a protected pattern. */
  | { kind: 'REJECTED_PROTECTED_CASE'; pattern: string }
  | { kind: 'REJECTED_NODELETE'; ref: string }
  | { kind: 'REJECTED_NOFORCE'; ref: string }
  /** Compare-and-swap lost: the ref held `actual` (null: absent), the command expected `expected`. */
  | { kind: 'REJECTED_STALE'; expected: string | null; actual: string | null }
  | { kind: 'LOCK_FAILURE' }
  /** Directory/file or case clash with another ref, or two updates of one ref. */
  | { kind: 'REJECTED_CONFLICT'; reason: string }
  /** Fine by itself, but an atomic push failed elsewhere. */
  | { kind: 'REJECTED_ATOMIC' }
  /** The store could not write it (I/O); `reason` goes to the `error:` line, not the status. */
  | { kind: 'REJECTED_OTHER'; reason: string };

export type RefRejection = Exclude<RefResult, { kind: 'OK' }>;

export const REF_OK: RefResult = { kind: 'OK' };

/** What the ref store answers per update (refs.ts RefUpdateResult; structural, so this file stays a leaf). */
export interface StoreOutcome {
  ok: boolean;
  reason?: string;
  code?: string;
}

/** A lost compare-and-swap: what the command expected and what the ref held (null: absent). */
export interface CasFound {
  expected: string | null;
  actual: string | null;
}

/** Store failure codes that mean "the ref was not what the command expected". */
export const CAS_FAILURES: ReadonlySet<string> = new Set(['stale', 'exists', 'missing']);

/** The ref store's answer for one update, as a result (`found` for a lost compare-and-swap). */
export function refResultOf(r: StoreOutcome, found?: CasFound): RefResult {
  if (r.ok) return REF_OK;
  switch (r.code) {
    case 'stale':
    case 'exists':
    case 'missing':
      if (found) return { kind: 'REJECTED_STALE', expected: found.expected, actual: found.actual };
      if (r.code === 'exists') return { kind: 'REJECTED_STALE', expected: null, actual: null };
      return { kind: 'REJECTED_OTHER', reason: oneLine(r.reason ?? '') }; // callers pass `found` (receive-command.ts updateResult)
    case 'locked':
      return { kind: 'LOCK_FAILURE' };
    case 'atomic':
      return { kind: 'REJECTED_ATOMIC' };
    case 'invalid':
      return { kind: 'REJECTED_BAD_NAME', reason: oneLine(r.reason ?? '') };
    case 'conflict':
      return { kind: 'REJECTED_CONFLICT', reason: oneLine(r.reason ?? '') };
    default:
      return { kind: 'REJECTED_OTHER', reason: oneLine(r.reason ?? '') };
  }
}

/** The reason after `ng <ref> `: C Git's wording where it has one. */
export function refResultText(r: RefRejection): string {
  switch (r.kind) {
    case 'REJECTED_BAD_NAME':
      return r.reason;
    case 'REJECTED_CURRENT_BRANCH':
      return 'deletion of the current branch prohibited';
    case 'REJECTED_MISSING_OBJECT':
      return 'missing necessary objects';
    case 'REJECTED_NOT_COMMIT':
      return `not a commit: branches must point at commits (${shortOid(r.oid)} is a ${r.type ?? 'missing object'})`;
    case 'REJECTED_SHALLOW':
      return 'shallow update not allowed';
    case 'REJECTED_SCOPE':
      return `refusing to ${r.change} ${r.ref}: outside this token's ref scope (${r.scope.join(', ')})`;
    case 'REJECTED_PROTECTED':
      return `protected ref: only admins may ${r.change} ${r.ref}`;
    case 'REJECTED_PROTECTED_CASE':
      return `refname conflicts with protected ref ${r.pattern} (case-insensitive)`;
    case 'REJECTED_NODELETE':
      return `deletion refused: this token may not delete refs (${r.ref})`;
    case 'REJECTED_NOFORCE':
      return `non-fast-forward update refused: this token may not force-push (${r.ref})`;
    case 'REJECTED_STALE':
      if (r.expected === null) return 'stale info: the ref already exists; fetch first';
      if (r.actual === null) return 'stale info: the ref no longer exists; fetch first';
      return `stale info: the ref is at ${shortOid(r.actual)}, not ${shortOid(r.expected)}; fetch first`;
    case 'LOCK_FAILURE':
      return 'failed to lock';
    case 'REJECTED_CONFLICT':
      return r.reason;
    case 'REJECTED_OTHER':
      return 'failed to update ref';
    case 'REJECTED_ATOMIC':
      return 'atomic push failure';
  }
}

export function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').trim();
}
