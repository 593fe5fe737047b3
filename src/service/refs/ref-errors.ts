// The REST API's answer for a refused ref command: the one mapping from a RefResult to the
// coded errors of src/errors.ts (a push renders the same results as `ng` lines instead, with
// refResultText).
import { GitgateError } from '../../errors.js';
import { refResultText, type RefRejection } from '../../repo/ref-result.js';

export interface RefErrorOptions {
  /** A create-only write (POST /refs): "the ref already exists" is REF_EXISTS, not a stale ref. */
  createOnly?: boolean;
}

export function refRejectionError(r: RefRejection, ref: string, opts: RefErrorOptions = {}): GitgateError {
  switch (r.kind) {
    case 'REJECTED_SCOPE':
    case 'REJECTED_PROTECTED':
    case 'REJECTED_PROTECTED_CASE':
    case 'REJECTED_NODELETE':
    case 'REJECTED_NOFORCE':
      return new GitgateError('FORBIDDEN', { reason: refResultText(r) });
    case 'REJECTED_STALE':
      if (opts.createOnly && r.expected === null) return new GitgateError('REF_EXISTS', { ref });
      return new GitgateError('STALE_REF', { ref, expected: r.expected ?? 'no commit' });
    case 'LOCK_FAILURE':
      return new GitgateError('REF_LOCKED', { ref });
    case 'REJECTED_CURRENT_BRANCH':
    case 'REJECTED_CONFLICT':
      return new GitgateError('REF_CONFLICT', { ref, reason: refResultText(r) });
    case 'REJECTED_BAD_NAME':
      return new GitgateError('BAD_REF_NAME', { ref });
    default:
      return new GitgateError('INTERNAL', {}, { cause: new Error(r.kind === 'REJECTED_OTHER' ? r.reason : refResultText(r)) });
  }
}
