import { describe, expect, it } from 'vitest';
import {
  normalizeRefPatterns,
  patternWithin,
  refAttenuationProblem,
  refMatches,
  refPatternProblem,
  refUpdateRefusal,
  type RefRights,
} from '../../src/auth/ref-policy.js';
import { checkAttenuation } from '../../src/auth/policy.js';
import { record } from './fixtures.js';

describe('refPatternProblem', () => {
  it.each(['refs/heads/main', 'refs/heads/agent/*', 'refs/tags/*', 'refs/heads/feature-123', 'refs/tags/v*', 'refs/heads/*/wip', 'refs/heads/a*b'])(
    'accepts %s',
    (p) => {
      expect(refPatternProblem(p)).toBeNull();
    },
  );

  it.each([
    ['', /empty/],
    ['heads/main', /must start with refs\//],
    ['main', /must start with refs\//],
    ['refs/heads/**', /at most one \*/],
    ['refs/*/agent/*', /at most one \*/],
    ['refs/heads/a b', /not a valid ref name/],
    ['refs/heads/../x', /not a valid ref name/],
    ['refs/heads/x.lock', /not a valid ref name/],
    ['refs/heads/', /not a valid ref name/],
    ['refs/heads//x', /not a valid ref name/],
    ['refs/heads/x?', /not a valid ref name/],
    ['refs/heads/[ab]', /not a valid ref name/],
    ['refs/heads/x~1', /not a valid ref name/],
    ['refs/heads/@{x}', /not a valid ref name/],
    ['refs/' + 'a'.repeat(1100), /longer than 1024/],
  ])('rejects %j', (p, why) => {
    expect(refPatternProblem(p)).toMatch(why);
  });

  it('rejects non-strings and de-duplicates lists', () => {
    expect(refPatternProblem(42)).toMatch(/string/);
    expect(normalizeRefPatterns(['refs/heads/a', 'refs/tags/*', 'refs/heads/a'])).toEqual(['refs/heads/a', 'refs/tags/*']);
    expect(() => normalizeRefPatterns(['refs/heads/a', 'nope'])).toThrow(/must start with refs\//);
    expect(() => normalizeRefPatterns(Array.from({ length: 101 }, (_, i) => `refs/heads/b${i}`))).toThrow(/at most 100/);
  });
});

describe('refMatches', () => {
  it('matches literals exactly and globs across slashes, like git refspec globs', () => {
    expect(refMatches('refs/heads/main', 'refs/heads/main')).toBe(true);
    expect(refMatches('refs/heads/main', 'refs/heads/main2')).toBe(false);
    expect(refMatches('refs/heads/agent/*', 'refs/heads/agent/x')).toBe(true);
    expect(refMatches('refs/heads/agent/*', 'refs/heads/agent/x/y')).toBe(true);
    expect(refMatches('refs/heads/agent/*', 'refs/heads/agent')).toBe(false);
    expect(refMatches('refs/heads/agent/*', 'refs/heads/agentx')).toBe(false);
    expect(refMatches('refs/heads/agent/*', 'refs/heads/main')).toBe(false);
    expect(refMatches('refs/tags/v*', 'refs/tags/v1.2')).toBe(true);
    expect(refMatches('refs/tags/v*', 'refs/tags/x1')).toBe(false);
    expect(refMatches('refs/heads/*/wip', 'refs/heads/a/b/wip')).toBe(true);
    expect(refMatches('refs/heads/*/wip', 'refs/heads/a/wipx')).toBe(false);
    // prefix and suffix must not overlap
    expect(refMatches('refs/heads/ab*ba', 'refs/heads/aba')).toBe(false);
    expect(refMatches('refs/heads/ab*ba', 'refs/heads/abba')).toBe(true);
  });
});

describe('patternWithin', () => {
  it.each([
    ['refs/heads/agent/x', 'refs/heads/agent/*', true],
    ['refs/heads/agent/x', 'refs/heads/agent/x', true],
    ['refs/heads/agent/*', 'refs/heads/agent/*', true],
    ['refs/heads/agent/team/*', 'refs/heads/agent/*', true],
    ['refs/heads/agent/*', 'refs/heads/*', true],
    ['refs/heads/agent/*/wip', 'refs/heads/agent/*', true],
    ['refs/heads/a*/wip', 'refs/heads/*/wip', true],
    ['refs/heads/*', 'refs/heads/agent/*', false],
    ['refs/heads/agent/*', 'refs/heads/agent/x', false],
    ['refs/heads/main', 'refs/heads/agent/*', false],
    ['refs/heads/agent*', 'refs/heads/agent/*', false], // agentx is outside
    ['refs/heads/*/wip', 'refs/heads/*', true],
    ['refs/heads/*', 'refs/heads/*/wip', false],
    ['refs/tags/*', 'refs/heads/*', false],
  ])('%s within %s: %s', (inner, outer, expected) => {
    expect(patternWithin(inner, outer)).toBe(expected);
  });
});

const rights = (over: Partial<RefRights> = {}): RefRights => ({ permission: 'write', refs: [], allow_force: true, allow_delete: true, ...over });

describe('refUpdateRefusal', () => {
  const scoped = rights({ refs: ['refs/heads/agent/*'], allow_force: false, allow_delete: false });

  it('lets an unrestricted token do anything outside protected refs', () => {
    for (const change of ['create', 'update', 'delete'] as const) {
      expect(refUpdateRefusal(rights(), [], { ref: 'refs/heads/main', change, forced: true })).toBeNull();
    }
  });

  it('refuses refs outside the scope, naming the scope', () => {
    expect(refUpdateRefusal(scoped, [], { ref: 'refs/heads/main', change: 'update', forced: false })).toBe(
      "refusing to update refs/heads/main: outside this token's ref scope (refs/heads/agent/*)",
    );
    expect(refUpdateRefusal(scoped, [], { ref: 'refs/tags/v1', change: 'create', forced: false })).toMatch(/^refusing to create refs\/tags\/v1/);
    expect(refUpdateRefusal(scoped, [], { ref: 'refs/heads/agent/x', change: 'create', forced: false })).toBeNull();
    expect(refUpdateRefusal(scoped, [], { ref: 'refs/heads/agent/x', change: 'update', forced: false })).toBeNull();
  });

  it('refuses forced updates and deletions without the rights', () => {
    expect(refUpdateRefusal(scoped, [], { ref: 'refs/heads/agent/x', change: 'update', forced: true })).toBe(
      'non-fast-forward update refused: this token may not force-push (refs/heads/agent/x)',
    );
    expect(refUpdateRefusal(scoped, [], { ref: 'refs/heads/agent/x', change: 'delete', forced: false })).toBe(
      'deletion refused: this token may not delete refs (refs/heads/agent/x)',
    );
    const strong = { ...scoped, allow_force: true, allow_delete: true };
    expect(refUpdateRefusal(strong, [], { ref: 'refs/heads/agent/x', change: 'update', forced: true })).toBeNull();
    expect(refUpdateRefusal(strong, [], { ref: 'refs/heads/agent/x', change: 'delete', forced: false })).toBeNull();
    // "forced" means nothing for creations
    expect(refUpdateRefusal(scoped, [], { ref: 'refs/heads/agent/y', change: 'create', forced: true })).toBeNull();
  });

  it('keeps protected refs for admins', () => {
    const prot = ['refs/heads/main', 'refs/tags/*'];
    expect(refUpdateRefusal(rights(), prot, { ref: 'refs/heads/main', change: 'update', forced: false })).toBe(
      'protected ref: only admins may update refs/heads/main',
    );
    expect(refUpdateRefusal(rights(), prot, { ref: 'refs/tags/v1', change: 'delete', forced: false })).toBe('protected ref: only admins may delete refs/tags/v1');
    expect(refUpdateRefusal(rights(), prot, { ref: 'refs/heads/dev', change: 'update', forced: true })).toBeNull();
    expect(refUpdateRefusal(rights({ permission: 'admin' }), prot, { ref: 'refs/heads/main', change: 'update', forced: true })).toBeNull();
    // an admin's own force/delete restrictions still hold on protected refs
    expect(refUpdateRefusal(rights({ permission: 'admin', allow_delete: false }), prot, { ref: 'refs/heads/main', change: 'delete', forced: false })).toMatch(
      /^deletion refused/,
    );
  });
});

describe('ref attenuation', () => {
  const parent = rights({ permission: 'admin', refs: ['refs/heads/agent/*', 'refs/tags/v*'], allow_force: false, allow_delete: true });

  it('allows children inside the parent and no stronger', () => {
    expect(refAttenuationProblem(parent, { refs: ['refs/heads/agent/a/*', 'refs/tags/v1'], allow_force: false, allow_delete: false })).toBeNull();
    expect(refAttenuationProblem(parent, { refs: ['refs/heads/agent/*'], allow_force: false, allow_delete: true })).toBeNull();
    expect(refAttenuationProblem(rights(), { refs: [], allow_force: true, allow_delete: true })).toBeNull();
  });

  it('refuses patterns outside, an unrestricted child, and escalated rights', () => {
    expect(refAttenuationProblem(parent, { refs: ['refs/heads/main'], allow_force: false, allow_delete: false })).toBe(
      "ref pattern refs/heads/main is outside the minting token's ref scope (refs/heads/agent/*, refs/tags/v*)",
    );
    expect(refAttenuationProblem(parent, { refs: ['refs/heads/*'], allow_force: false, allow_delete: false })).toMatch(/refs\/heads\/\* is outside/);
    expect(refAttenuationProblem(parent, { refs: [], allow_force: false, allow_delete: false })).toMatch(/needs a ref scope within it/);
    expect(refAttenuationProblem(parent, { refs: ['refs/heads/agent/x'], allow_force: true, allow_delete: false })).toMatch(/may not force-push/);
    const noDelete = { ...parent, allow_delete: false };
    expect(refAttenuationProblem(noDelete, { refs: ['refs/heads/agent/x'], allow_force: false, allow_delete: true })).toMatch(/may not delete/);
  });

  it('is part of checkAttenuation', () => {
    const minter = record({ kind: 'repo', permission: 'admin', repo_ids: ['r'], refs: ['refs/heads/agent/*'], allow_force: false, allow_delete: false });
    const base = { kind: 'repo' as const, permission: 'write' as const, repoIds: ['r'], expiresAt: null };
    expect(checkAttenuation(minter, { ...base, refs: ['refs/heads/agent/1'], allowForce: false, allowDelete: false })).toBeNull();
    expect(checkAttenuation(minter, { ...base, refs: ['refs/heads/main'], allowForce: false, allowDelete: false })).toMatch(/outside the minting token's ref scope/);
    expect(checkAttenuation(minter, base)).toMatch(/needs a ref scope/); // omitted = unrestricted here
  });
});
