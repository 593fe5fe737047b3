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

/** Only admin tokens mint; what they may mint is checkAttenuation's business. */
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

/** Why `minter` may not mint `child`, or null when it may. A token mints only tokens no
 *  stronger than itself: permission ≤, repositories ⊆, expiry ≤ (SPEC §2), ref scope within
 *  its own, no force/delete right it lacks. */
export function checkAttenuation(minter: TokenRecord, child: ChildTokenSpec): string | null {
  if (minter.revoked_at !== null) return 'the minting token is revoked';
  if (!canMint(minter)) return 'only admin tokens can mint tokens';
  if (child.kind === 'workspace' && minter.kind !== 'workspace') return 'a repository token cannot mint a workspace token';
  if (!permissionAtLeast(minter.permission, child.permission)) {
    return `permission ${child.permission} exceeds the minting token's ${minter.permission}`;
  }
  if (minter.kind === 'repo') {
    const outside = child.repoIds.filter((id) => !minter.repo_ids.includes(id));
    if (outside.length > 0) return `repository ${outside[0]} is outside the minting token's scope`;
  }
  if (minter.expires_at !== null) {
    if (child.expiresAt === null) return `the minting token expires at ${minter.expires_at}, so the new token must expire too`;
    if (Date.parse(child.expiresAt) > Date.parse(minter.expires_at)) {
      return `the new token would expire after the minting token (${minter.expires_at})`;
    }
  }
  return refAttenuationProblem(minter, {
    refs: child.refs ?? [],
    allow_force: child.allowForce ?? true,
    allow_delete: child.allowDelete ?? true,
  });
}

/** Token metadata visibility (GET/list): workspace admins see every token; a repo admin
 *  sees repo tokens whose whole (non-empty) scope lies within its own, so listing never
 *  reveals other repositories; every token sees itself. */
export function canSeeToken(viewer: TokenRecord, target: TokenRecord): boolean {
  if (viewer.id === target.id) return true;
  if (viewer.permission !== 'admin') return false;
  if (viewer.kind === 'workspace') return true;
  return (
    target.kind === 'repo' &&
    target.repo_ids.length > 0 &&
    target.repo_ids.every((id) => viewer.repo_ids.includes(id))
  );
}

/** Revoking: the same tokens an actor can see. Self-revocation is always allowed (an agent
 *  giving up its token when done can only reduce access). */
export function canRevokeToken(actor: TokenRecord, target: TokenRecord): boolean {
  return canSeeToken(actor, target);
}
