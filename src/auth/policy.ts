// The one place that decides what a (verified, live) token may do. Callers pass repository
// ids, never names: resolve a name with ReposTable.get first.
import { permissionAtLeast, type Permission } from './permissions.js';
import type { TokenKind } from './token-format.js';
import type { TokenRecord } from './token-record.js';
import { refAttenuationProblem } from './ref-policy.js';

export type Access = 'ok' | 'not_found' | 'forbidden';

/** Out of scope -> 'not_found', exactly like a missing repository, so scope never leaks
 *  existence. In scope but too weak -> 'forbidden'. */
export function repoAccess(token: TokenRecord, repoId: string, need: Permission): Access {
  if (token.kind === 'repo' && !token.repo_ids.includes(repoId)) return 'not_found';
  return permissionAtLeast(token.permission, need) ? 'ok' : 'forbidden';
}

/** Creating/listing repositories and workspace-wide token management. */
export function canUseControlPlane(token: TokenRecord): boolean {
  return token.kind === 'workspace';
}

/** Only admin tokens mint; what they may mint is mintRefusal's business. */
export function canMint(token: TokenRecord): boolean {
  return token.permission === 'admin';
}

export interface ChildTokenSpec {
  kind: TokenKind;
  permission: Permission;
  repoIds: string[];
  expiresAt: string | null;
  /** Ref scope ([] or omitted: every ref). */
  refs?: string[];
  /** Omitted: true (the rights of a token without ref restrictions). */
  allowForce?: boolean;
  allowDelete?: boolean;
}

/** Why a token may not be minted (or managed): 'not_found' when the token lies outside the
 *  caller's reach altogether (another repository, a workspace token, a caller with no
 *  token-management right), so that existence never leaks; 'forbidden' when it lies within
 *  the caller's repositories but is stronger than the caller. */
export interface Refusal {
  access: 'not_found' | 'forbidden';
  reason: string;
}

/**
 * The one attenuation predicate: why `caller` could not have minted a token with `child`'s
 * rights, or null when it could. A token mints only tokens no stronger than itself:
 * permission ≤, repositories ⊆, expiry ≤ (SPEC §2), kind (repo tokens never mint workspace
 * tokens), ref scope within its own, no force/delete right it lacks. Minting, reading,
 * rotating and revoking another token all ask this (see manageRefusal).
 */
export function mintRefusal(caller: TokenRecord, child: ChildTokenSpec): Refusal | null {
  const outside = (reason: string): Refusal => ({ access: 'not_found', reason });
  const wider = (reason: string): Refusal => ({ access: 'forbidden', reason });
  if (caller.revoked_at !== null) return outside('the minting token is revoked');
  if (!canMint(caller)) return outside('only admin tokens can mint tokens');
  if (child.kind === 'workspace' && caller.kind !== 'workspace') return outside('a repository token cannot mint a workspace token');
  if (caller.kind === 'repo') {
    // a repo token with no repository left (all deleted) lies in nobody's scope but the workspace's
    if (child.repoIds.length === 0) return outside('the token covers no repository of the minting token');
    const out = child.repoIds.filter((id) => !caller.repo_ids.includes(id));
    if (out.length > 0) return outside(`repository ${out[0]} is outside the minting token's scope`);
  }
  if (!permissionAtLeast(caller.permission, child.permission)) {
    return wider(`permission ${child.permission} exceeds the minting token's ${caller.permission}`);
  }
  if (caller.expires_at !== null) {
    if (child.expiresAt === null) return wider(`the minting token expires at ${caller.expires_at}, so the new token must expire too`);
    if (Date.parse(child.expiresAt) > Date.parse(caller.expires_at)) {
      return wider(`the new token would expire after the minting token (${caller.expires_at})`);
    }
  }
  const refs = refAttenuationProblem(caller, {
    refs: child.refs ?? [],
    allow_force: child.allowForce ?? true,
    allow_delete: child.allowDelete ?? true,
  });
  return refs === null ? null : wider(refs);
}

/** mintRefusal's reason alone (minting reports every refusal as 403 ATTENUATION). */
export function checkAttenuation(minter: TokenRecord, child: ChildTokenSpec): string | null {
  return mintRefusal(minter, child)?.reason ?? null;
}

/** The rights of an existing token, as a mint request for them. */
export function specOf(t: TokenRecord): ChildTokenSpec {
  return {
    kind: t.kind,
    permission: t.permission,
    repoIds: t.repo_ids,
    expiresAt: t.expires_at,
    refs: t.refs,
    allowForce: t.allow_force,
    allowDelete: t.allow_delete,
  };
}

/**
 * Reading, rotating or revoking `target` (GitHub/GitLab style): a token always manages
 * itself; any other token only if the caller could have minted it. Rotation hands out a
 * secret, so anything weaker would be a takeover; revoking a wider token would be a
 * takeover by denial.
 */
export function manageRefusal(caller: TokenRecord, target: TokenRecord): Refusal | null {
  if (caller.id === target.id) return null;
  return mintRefusal(caller, specOf(target));
}

export function canManageToken(caller: TokenRecord, target: TokenRecord): boolean {
  return manageRefusal(caller, target) === null;
}

/**
 * Why `token` (already admin on the repository) may not act on the repository as a whole:
 * delete it or change its protected refs. A ref scope bounds every operation, so a
 * ref-scoped token administers only its refs; deletion also needs allow_delete.
 */
export function repoAdminRefusal(token: TokenRecord, action: 'delete' | 'protect'): string | null {
  const what = action === 'delete' ? 'deleting the repository' : 'changing protected refs';
  if (token.refs.length > 0) return `this token may only update ${token.refs.join(', ')}; ${what} needs a token without a ref scope`;
  if (action === 'delete' && !token.allow_delete) return `this token may not delete (allow_delete is false); ${what} needs it`;
  return null;
}
