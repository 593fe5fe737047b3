// Ref command results as data: C Git's `ng` wording and the REST errors come from the
// structured fields alone (nothing parses reason text back).
import { describe, expect, it } from 'vitest';
import { isOid, OID_PATTERN, oidOrNull, parseOid, shortOid, ZERO_OID } from '../../src/oid.js';
import { refResultOf, refResultText, type RefRejection } from '../../src/repo/ref-result.js';
import { refRejectionError } from '../../src/service/refs/ref-errors.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);

describe('refResultText (the ng reason)', () => {
  it('renders a lost compare-and-swap from expected/actual', () => {
    expect(refResultText({ kind: 'REJECTED_STALE', expected: A, actual: B })).toBe('stale info: the ref is at bbbbbbb, not aaaaaaa; fetch first');
    expect(refResultText({ kind: 'REJECTED_STALE', expected: null, actual: B })).toBe('stale info: the ref already exists; fetch first');
    expect(refResultText({ kind: 'REJECTED_STALE', expected: A, actual: null })).toBe('stale info: the ref no longer exists; fetch first');
  });

  it("uses C Git's words for its own refusals", () => {
    expect(refResultText({ kind: 'LOCK_FAILURE' })).toBe('failed to lock');
    expect(refResultText({ kind: 'REJECTED_ATOMIC' })).toBe('atomic push failure');
    expect(refResultText({ kind: 'REJECTED_SHALLOW' })).toBe('shallow update not allowed');
    expect(refResultText({ kind: 'REJECTED_MISSING_OBJECT' })).toBe('missing necessary objects');
    expect(refResultText({ kind: 'REJECTED_CURRENT_BRANCH' })).toBe('deletion of the current branch prohibited');
    expect(refResultText({ kind: 'REJECTED_OTHER', reason: 'EIO' })).toBe('failed to update ref');
  });
});

describe('refResultOf (the ref store answer)', () => {
  it('takes the compare-and-swap facts from the caller, not from the reason text', () => {
    const r = { ok: false, code: 'stale', reason: 'the text is not read' };
    expect(refResultOf(r, { expected: A, actual: B })).toEqual({ kind: 'REJECTED_STALE', expected: A, actual: B });
    expect(refResultOf({ ok: false, code: 'locked', reason: 'x' })).toEqual({ kind: 'LOCK_FAILURE' });
    expect(refResultOf({ ok: false, code: 'conflict', reason: 'a\nb' })).toEqual({ kind: 'REJECTED_CONFLICT', reason: 'a b' });
    expect(refResultOf({ ok: true })).toEqual({ kind: 'OK' });
  });
});

describe('refRejectionError (the REST mapping)', () => {
  const cases: [RefRejection, string, number][] = [
    [{ kind: 'REJECTED_SCOPE', ref: 'refs/heads/main', change: 'update', scope: ['refs/heads/agent/*'] }, 'FORBIDDEN', 403],
    [{ kind: 'REJECTED_PROTECTED', ref: 'refs/heads/main', change: 'delete' }, 'FORBIDDEN', 403],
    [{ kind: 'REJECTED_NOFORCE', ref: 'refs/heads/x' }, 'FORBIDDEN', 403],
    [{ kind: 'REJECTED_STALE', expected: A, actual: B }, 'STALE_REF', 409],
    [{ kind: 'LOCK_FAILURE' }, 'REF_LOCKED', 423],
    [{ kind: 'REJECTED_CURRENT_BRANCH' }, 'REF_CONFLICT', 409],
    [{ kind: 'REJECTED_BAD_NAME', reason: 'funny refname' }, 'BAD_REF_NAME', 400],
  ];
  it.each(cases)('%j → %s', (r, code, status) => {
    const err = refRejectionError(r, 'refs/heads/x');
    expect(err.code).toBe(code);
    expect(err.status).toBe(status);
  });

  it('says REF_EXISTS for a create-only write, STALE_REF (expected "no commit") otherwise', () => {
    const exists: RefRejection = { kind: 'REJECTED_STALE', expected: null, actual: A };
    expect(refRejectionError(exists, 'refs/heads/x', { createOnly: true }).code).toBe('REF_EXISTS');
    const stale = refRejectionError(exists, 'refs/heads/x');
    expect(stale.code).toBe('STALE_REF');
    expect(stale.message).toContain('no commit');
  });
});

describe('oid', () => {
  it('parses, formats and knows the zero id', () => {
    expect(ZERO_OID).toBe('0000000000000000000000000000000000000000');
    expect(isOid(A)).toBe(true);
    expect(isOid(A.toUpperCase())).toBe(false);
    expect(isOid(`${A}0`)).toBe(false);
    expect(OID_PATTERN.test(A.slice(1))).toBe(false);
    expect(parseOid('nope')).toBeNull();
    expect(oidOrNull(ZERO_OID)).toBeNull();
    expect(oidOrNull(A)).toBe(A);
    expect(shortOid(B)).toBe('bbbbbbb');
  });
});
