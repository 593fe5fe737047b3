// Which refs a token may move (ref scopes, force and delete rights, protected refs). Pure:
// no database, no repository; callers classify the update (create/update/delete, forced or
// not) and pass the repository's protected patterns.
//
// Patterns are git refspec globs: a full ref name under refs/ with at most one `*`, which
// matches any run of characters, `/` included (as in `git push origin 'refs/heads/*:…'`):
// `refs/heads/agent/*` matches refs/heads/agent/x and refs/heads/agent/x/y, `refs/tags/v*`
// matches refs/tags/v1.2. A pattern without `*` matches exactly one ref.
import { foldRefName, isValidRefName } from '../repo/ref-names.js';
import { refResultText, type RefChange, type RefRejection } from '../repo/ref-result.js';
import { permissionAtLeast, type Permission } from './permissions.js';

export const MAX_REF_PATTERNS = 100;
export const MAX_REF_PATTERN_LENGTH = 1024;

/** Why `pattern` is not a valid ref pattern, or null when it is. */
export function refPatternProblem(pattern: unknown): string | null {
  if (typeof pattern !== 'string') return 'a ref pattern must be a string';
  const shown = JSON.stringify(pattern.length > 100 ? `${pattern.slice(0, 100)}…` : pattern);
  if (pattern.length === 0) return 'a ref pattern must not be empty';
  if (pattern.length > MAX_REF_PATTERN_LENGTH) return `ref pattern ${shown} is longer than ${MAX_REF_PATTERN_LENGTH} characters`;
  if (!pattern.startsWith('refs/')) return `ref pattern ${shown} must start with refs/ (e.g. refs/heads/main, refs/heads/agent/*)`;
  const stars = pattern.split('*').length - 1;
  if (stars > 1) return `ref pattern ${shown} may contain at most one *`;
  // the glob stands for a run of name characters; with it replaced the rest must be a valid ref name
  if (!isValidRefName(pattern.replace('*', 'x'))) return `ref pattern ${shown} is not a valid ref name (git check-ref-format rules)`;
  return null;
}

/** Validated, de-duplicated patterns (order kept); throws a message for the first bad one. */
export function normalizeRefPatterns(patterns: readonly unknown[], what = 'refs'): string[] {
  if (patterns.length > MAX_REF_PATTERNS) throw new RefPatternError(`${what} may hold at most ${MAX_REF_PATTERNS} patterns`);
  const out: string[] = [];
  for (const p of patterns) {
    const problem = refPatternProblem(p);
    if (problem) throw new RefPatternError(problem);
    if (!out.includes(p as string)) out.push(p as string);
  }
  return out;
}

export class RefPatternError extends Error {}

/** Does `ref` match `pattern`? */
export function refMatches(pattern: string, ref: string): boolean {
  const star = pattern.indexOf('*');
  if (star < 0) return pattern === ref;
  const prefix = pattern.slice(0, star);
  const suffix = pattern.slice(star + 1);
  return ref.length >= prefix.length + suffix.length && ref.startsWith(prefix) && ref.endsWith(suffix);
}

export function matchesAny(patterns: readonly string[], ref: string): boolean {
  return patterns.some((p) => refMatches(p, ref));
}

/** A pattern `ref` matches only when case is ignored, or null. */
export function caseVariantOf(patterns: readonly string[], ref: string): string | null {
  if (matchesAny(patterns, ref)) return null;
  const folded = foldRefName(ref);
  return patterns.find((p) => refMatches(foldRefName(p), folded)) ?? null;
}

/**
 * Is every ref matched by `inner` also matched by `outer`? For `a*b` inside `c*d`: `c` must be
 * a prefix of `a` and `d` a suffix of `b` (otherwise some filler breaks the match). A glob is
 * never inside a literal.
 */
export function patternWithin(inner: string, outer: string): boolean {
  const star = inner.indexOf('*');
  if (star < 0) return refMatches(outer, inner);
  const outerStar = outer.indexOf('*');
  if (outerStar < 0) return false;
  const a = inner.slice(0, star);
  const b = inner.slice(star + 1);
  const c = outer.slice(0, outerStar);
  const d = outer.slice(outerStar + 1);
  return a.startsWith(c) && b.endsWith(d);
}

/** Rights a token carries for moving refs (a TokenRecord has them all). */
export interface RefRights {
  permission: Permission;
  /** Ref scope: [] = every ref. */
  refs: readonly string[];
  allow_force: boolean;
  allow_delete: boolean;
}

/** Why a child with `child` rights may not be minted by `minter`, or null. */
export function refAttenuationProblem(minter: RefRights, child: Pick<RefRights, 'refs' | 'allow_force' | 'allow_delete'>): string | null {
  if (minter.refs.length > 0) {
    if (child.refs.length === 0) return `the minting token may only update ${minter.refs.join(', ')}, so the new token needs a ref scope within it`;
    const outside = child.refs.find((p) => !minter.refs.some((q) => patternWithin(p, q)));
    if (outside !== undefined) return `ref pattern ${outside} is outside the minting token's ref scope (${minter.refs.join(', ')})`;
  }
  if (child.allow_force && !minter.allow_force) return 'the minting token may not force-push, so the new token cannot either (allow_force)';
  if (child.allow_delete && !minter.allow_delete) return 'the minting token may not delete refs, so the new token cannot either (allow_delete)';
  return null;
}

export type { RefChange };

export interface RefUpdateIntent {
  ref: string;
  change: RefChange;
  /** An update whose old value is not an ancestor of the new one (meaningless for create/delete). */
  forced: boolean;
}

/**
 * Why `token` may not make this ref update in a repository with `protectedRefs` (as data), or
 * null when it may. Order: ref scope, protection, deletion right, force right (the first that
 * applies is the reason shown).
 */
export function refUpdateDecision(token: RefRights, protectedRefs: readonly string[], u: RefUpdateIntent): RefRejection | null {
  if (token.refs.length > 0 && !matchesAny(token.refs, u.ref)) return { kind: 'REJECTED_SCOPE', ref: u.ref, change: u.change, scope: token.refs };
  if (!permissionAtLeast(token.permission, 'admin') && matchesAny(protectedRefs, u.ref)) return { kind: 'REJECTED_PROTECTED', ref: u.ref, change: u.change };
  if (u.change === 'create') {
    // refs/heads/MAIN is refs/heads/main on macOS and Windows: nobody creates a case variant of a protected ref
    const variant = caseVariantOf(protectedRefs, u.ref);
    if (variant) return { kind: 'REJECTED_PROTECTED_CASE', pattern: variant };
  }
  if (u.change === 'delete' && !token.allow_delete) return { kind: 'REJECTED_NODELETE', ref: u.ref };
  if (u.change === 'update' && u.forced && !token.allow_force) return { kind: 'REJECTED_NOFORCE', ref: u.ref };
  return null;
}

/** refUpdateDecision's reason as the text a push's `ng` line and a REST 403 carry. */
export function refUpdateRefusal(token: RefRights, protectedRefs: readonly string[], u: RefUpdateIntent): string | null {
  const decision = refUpdateDecision(token, protectedRefs, u);
  return decision && refResultText(decision);
}
