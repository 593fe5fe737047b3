import { describe, expect, it } from 'vitest';
import { isPushableRefName, isStorableRefName, isValidRefName } from '../../src/repo/ref-names.js';
import { gitRaw } from './helpers.js';

// [name, valid per `git check-ref-format` (no options)]
const TABLE: [string, boolean][] = [
  ['refs/heads/main', true],
  ['refs/heads/feature/x', true],
  ['refs/tags/v1.0.0', true],
  ['refs/heads/a-b_c', true],
  ['refs/heads/UPPER', true],
  ['refs/heads/ümlaut', true],
  ['refs/heads/日本語', true],
  ['refs/heads/a@b', true],
  ['refs/heads/@', true],
  ['refs/heads/a{b}', true],
  ['refs/heads/a}', true],
  ['refs/heads/a.b', true],
  ['refs/heads/a..', false],
  ['refs/heads/a..b', false],
  ['refs/heads/.a', false],
  ['refs/heads/a.', false],
  ['refs/heads/a.lock', false],
  ['refs/heads/a.lock/b', false],
  ['refs/heads/a.lockx', true],
  ['refs/heads/x.lock.y', true],
  ['refs/heads/a/', false],
  ['refs/heads//a', false],
  ['/refs/heads/a', false],
  ['refs/heads/a b', false],
  ['refs/heads/a~b', false],
  ['refs/heads/a^b', false],
  ['refs/heads/a:b', false],
  ['refs/heads/a?b', false],
  ['refs/heads/a*b', false],
  ['refs/heads/*', false],
  ['refs/heads/a[b', false],
  ['refs/heads/a]b', true],
  ['refs/heads/a\\b', false],
  ['refs/heads/a@{b', false],
  ['refs/heads/@{', false],
  ['refs/heads/a\tb', false],
  ['refs/heads/a\nb', false],
  ['refs/heads/a\x01b', false],
  ['refs/heads/a\x1fb', false],
  ['refs/heads/a\x7fb', false],
  ['refs/heads/a!b', true],
  ['refs/heads/a"b', true],
  ['refs/heads/a#b', true],
  ['refs/heads/a$b', true],
  ['refs/heads/a%b', true],
  ['refs/heads/a&b', true],
  ["refs/heads/a'b", true],
  ['refs/heads/a(b)', true],
  ['refs/heads/a+b', true],
  ['refs/heads/a,b', true],
  ['refs/heads/a;b', true],
  ['refs/heads/a<b>', true],
  ['refs/heads/a=b', true],
  ['refs/heads/a|b', true],
  ['refs/heads/a`b', true],
  ['refs/heads/-dash', true],
  ['refs/heads/.', false],
  ['refs/heads/..', false],
  ['refs/../heads', false],
  ['refs', false],
  ['HEAD', false],
  ['main', false],
  ['@', false],
  ['a/b', true],
  ['foo/bar.lock', false],
  ['refs/heads/a/.b/c', false],
  ['refs/heads/a.lock.lock', false],
  ['', false],
];

describe('isValidRefName', () => {
  it.each(TABLE)('%j -> %s', (name, valid) => {
    expect(isValidRefName(name)).toBe(valid);
  });

  it('agrees with `git check-ref-format` on every name in the table', () => {
    const disagreements = TABLE.filter(([name]) => {
      const gitSays = gitRaw(['check-ref-format', name]).status === 0;
      return gitSays !== isValidRefName(name);
    }).map(([name]) => name);
    expect(disagreements).toEqual([]);
    expect(TABLE.length).toBeGreaterThanOrEqual(60);
  });
});

describe('isPushableRefName / isStorableRefName', () => {
  it('accepts refs/<kind>/<name> for pushes, like receive-pack', () => {
    expect(isPushableRefName('refs/heads/main')).toBe(true);
    expect(isPushableRefName('refs/tags/v1')).toBe(true);
    expect(isPushableRefName('refs/main')).toBe(false); // "funny refname" in C Git
    expect(isPushableRefName('heads/main')).toBe(false);
    expect(isPushableRefName('refs/heads/a..b')).toBe(false);
  });

  it('lets RefStore use HEAD and refs/ names only', () => {
    expect(isStorableRefName('HEAD')).toBe(true);
    expect(isStorableRefName('refs/heads/x')).toBe(true);
    expect(isStorableRefName('refs/stash')).toBe(true);
    expect(isStorableRefName('FETCH_HEAD')).toBe(false);
    expect(isStorableRefName('objects/ab')).toBe(false);
    expect(isStorableRefName('refs/../../etc/passwd')).toBe(false);
  });
});
