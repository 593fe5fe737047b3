import { describe, expect, it } from 'vitest';
import { permissionAtLeast } from '../../src/auth/permissions.js';
import { canManageToken, canMint, canUseControlPlane, checkAttenuation, manageRefusal, repoAccess, repoAdminRefusal } from '../../src/auth/policy.js';
import { PERMS, record } from './fixtures.js';

describe('permissionAtLeast', () => {
  it('orders read < write < admin', () => {
    const table = PERMS.map((have) => PERMS.map((need) => permissionAtLeast(have, need)));
    expect(table).toEqual([
      [true, false, false],
      [true, true, false],
      [true, true, true],
    ]);
  });
});

describe('repoAccess', () => {
  // [kind, permission, repo in scope?, need] -> expected
  const expected = (kind: 'workspace' | 'repo', have: string, inScope: boolean, need: string) => {
    if (kind === 'repo' && !inScope) return 'not_found';
    return PERMS.indexOf(have as never) >= PERMS.indexOf(need as never) ? 'ok' : 'forbidden';
  };

  for (const kind of ['workspace', 'repo'] as const) {
    for (const have of PERMS) {
      for (const inScope of [true, false]) {
        for (const need of PERMS) {
          const want = expected(kind, have, inScope, need);
          it(`${kind}/${have} ${inScope ? 'in' : 'out of'} scope needing ${need} -> ${want}`, () => {
            const token = record({ kind, permission: have, repo_ids: kind === 'repo' ? ['other', ...(inScope ? ['target'] : [])] : [] });
            expect(repoAccess(token, 'target', need)).toBe(want);
          });
        }
      }
    }
  }

  it('a repo token with an empty scope (its repos deleted) reaches nothing', () => {
    expect(repoAccess(record({ kind: 'repo', permission: 'admin', repo_ids: [] }), 'x', 'read')).toBe('not_found');
  });
});

describe('control plane and minting', () => {
  it('only workspace tokens reach the control plane, whatever their permission', () => {
    for (const p of PERMS) {
      expect(canUseControlPlane(record({ kind: 'workspace', permission: p }))).toBe(true);
      expect(canUseControlPlane(record({ kind: 'repo', permission: p, repo_ids: ['a'] }))).toBe(false);
    }
  });

  it('only admin tokens mint', () => {
    expect(PERMS.map((p) => canMint(record({ kind: 'workspace', permission: p })))).toEqual([false, false, true]);
    expect(PERMS.map((p) => canMint(record({ kind: 'repo', permission: p, repo_ids: ['a'] })))).toEqual([false, false, true]);
  });
});

describe('checkAttenuation', () => {
  const wsAdmin = record({ kind: 'workspace', permission: 'admin' });
  const repoAdmin = record({ kind: 'repo', permission: 'admin', repo_ids: ['a', 'b'] });
  const child = (over: Partial<Parameters<typeof checkAttenuation>[1]> = {}) => ({
    kind: 'repo' as const,
    permission: 'read' as const,
    repoIds: ['a'],
    expiresAt: null,
    ...over,
  });

  it('a workspace admin mints anything (permission matrix x kind)', () => {
    for (const kind of ['workspace', 'repo'] as const) {
      for (const permission of PERMS) {
        expect(checkAttenuation(wsAdmin, child({ kind, permission, repoIds: kind === 'repo' ? ['zzz'] : [] }))).toBeNull();
      }
    }
  });

  it('non-admin tokens mint nothing', () => {
    for (const permission of ['read', 'write'] as const) {
      expect(checkAttenuation(record({ kind: 'workspace', permission }), child())).toMatch(/only admin/);
      expect(checkAttenuation(record({ kind: 'repo', permission, repo_ids: ['a'] }), child())).toMatch(/only admin/);
    }
  });

  it('a repo admin mints repo tokens of any permission within its repos', () => {
    for (const permission of PERMS) expect(checkAttenuation(repoAdmin, child({ permission, repoIds: ['a', 'b'] }))).toBeNull();
  });

  it('a repo admin never mints a workspace token', () => {
    expect(checkAttenuation(repoAdmin, child({ kind: 'workspace', repoIds: [] }))).toMatch(/cannot mint a workspace token/);
  });

  it('repositories must be a subset of the minter scope', () => {
    expect(checkAttenuation(repoAdmin, child({ repoIds: ['a', 'c'] }))).toMatch(/repository c is outside/);
    expect(checkAttenuation(repoAdmin, child({ repoIds: ['b'] }))).toBeNull();
  });

  it('expiry: an expiring minter only mints tokens expiring no later than itself', () => {
    const expiring = record({ kind: 'workspace', permission: 'admin', expires_at: '2030-01-01T00:00:00.000Z' });
    expect(checkAttenuation(expiring, child({ expiresAt: null }))).toMatch(/must expire too/);
    expect(checkAttenuation(expiring, child({ expiresAt: '2030-01-01T00:00:00.001Z' }))).toMatch(/expire after/);
    expect(checkAttenuation(expiring, child({ expiresAt: '2030-01-01T00:00:00.000Z' }))).toBeNull();
    expect(checkAttenuation(expiring, child({ expiresAt: '2029-06-01T00:00:00.000Z' }))).toBeNull();
    // a non-expiring minter may mint either
    expect(checkAttenuation(wsAdmin, child({ expiresAt: '2031-01-01T00:00:00.000Z' }))).toBeNull();
  });

  it('a revoked minter mints nothing', () => {
    expect(checkAttenuation({ ...wsAdmin, revoked_at: '2024-01-01T00:00:00.000Z' }, child())).toMatch(/revoked/);
  });
});

describe('managing another token: the token itself, or one the caller could have minted', () => {
  const wsAdmin = record({ kind: 'workspace', permission: 'admin', id: 'tok_wsadmin000000000' });
  const wsWrite = record({ kind: 'workspace', permission: 'write', id: 'tok_wswrite000000000' });
  const repoAdmin = record({ kind: 'repo', permission: 'admin', repo_ids: ['a', 'b'], id: 'tok_repoadmin0000000' });
  const inside = record({ kind: 'repo', permission: 'read', repo_ids: ['a'], id: 'tok_inside0000000000' });
  const straddling = record({ kind: 'repo', permission: 'read', repo_ids: ['a', 'c'], id: 'tok_straddle00000000' });
  const orphan = record({ kind: 'repo', permission: 'read', repo_ids: [], id: 'tok_orphan0000000000' });
  const scopedWsAdmin = record({ kind: 'workspace', permission: 'admin', refs: ['refs/heads/agent/*'], allow_force: false, allow_delete: false, expires_at: '2030-01-01T00:00:00.000Z', id: 'tok_scopedws0000000' });
  const peerAdmin = record({ kind: 'repo', permission: 'admin', repo_ids: ['a'], id: 'tok_peeradmin0000000' });

  it('an unrestricted workspace admin manages everything; a repo admin what lies inside its scope', () => {
    for (const target of [wsWrite, repoAdmin, inside, straddling, orphan, scopedWsAdmin]) expect(canManageToken(wsAdmin, target)).toBe(true);
    expect(canManageToken(repoAdmin, inside)).toBe(true);
    expect(canManageToken(repoAdmin, peerAdmin)).toBe(true); // it could have minted an admin token on a
    expect(manageRefusal(repoAdmin, straddling)?.access).toBe('not_found'); // would reveal repository c
    expect(manageRefusal(repoAdmin, orphan)?.access).toBe('not_found');
    expect(manageRefusal(repoAdmin, wsWrite)?.access).toBe('not_found');
    expect(manageRefusal(wsWrite, inside)?.access).toBe('not_found'); // no management right at all
    expect(canManageToken(inside, inside)).toBe(true);
    expect(manageRefusal(inside, repoAdmin)?.access).toBe('not_found');
  });

  it('a restricted admin cannot manage anything wider than itself: 403 reasons, not 404', () => {
    // the bootstrap token: no expiry, no ref scope, every right
    expect(manageRefusal(scopedWsAdmin, wsAdmin)).toMatchObject({ access: 'forbidden', reason: expect.stringMatching(/must expire too/) });
    const sameExpiry = { ...wsAdmin, expires_at: scopedWsAdmin.expires_at };
    expect(manageRefusal(scopedWsAdmin, sameExpiry)).toMatchObject({ access: 'forbidden', reason: expect.stringMatching(/needs a ref scope/) });
    const noForce = { ...sameExpiry, refs: ['refs/heads/agent/x'], allow_force: true, allow_delete: false };
    expect(manageRefusal(scopedWsAdmin, noForce)?.reason).toMatch(/allow_force/);
    expect(manageRefusal(scopedWsAdmin, { ...noForce, allow_force: false, allow_delete: true })?.reason).toMatch(/allow_delete/);
    expect(manageRefusal(scopedWsAdmin, { ...noForce, allow_force: false })).toBeNull();
    expect(manageRefusal({ ...repoAdmin, permission: 'admin' }, { ...inside, permission: 'admin' })).toBeNull();
    expect(manageRefusal({ ...peerAdmin, permission: 'write' }, inside)?.access).toBe('not_found');
    // itself, always
    expect(manageRefusal(scopedWsAdmin, scopedWsAdmin)).toBeNull();
  });
});

describe('whole-repository administration', () => {
  it('needs a token without a ref scope; deletion also allow_delete', () => {
    const admin = record({ kind: 'repo', permission: 'admin', repo_ids: ['a'] });
    expect(repoAdminRefusal(admin, 'delete')).toBeNull();
    expect(repoAdminRefusal(admin, 'protect')).toBeNull();
    const scoped = { ...admin, refs: ['refs/heads/agent/*'], allow_delete: true };
    expect(repoAdminRefusal(scoped, 'delete')).toMatch(/ref scope/);
    expect(repoAdminRefusal(scoped, 'protect')).toMatch(/ref scope/);
    expect(repoAdminRefusal({ ...admin, allow_delete: false }, 'delete')).toMatch(/allow_delete/);
    expect(repoAdminRefusal({ ...admin, allow_delete: false }, 'protect')).toBeNull();
  });
});
