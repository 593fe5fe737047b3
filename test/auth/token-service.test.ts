import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import bcrypt from 'bcrypt';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { canManageToken } from '../../src/auth/policy.js';
import { generateSecret, parseSecret } from '../../src/auth/token-format.js';
import { TokenService, type CreateTokenInput, type TokenRecord } from '../../src/auth/token-service.js';
import type { Db } from '../../src/db/sqlite/database.js';
import { SqliteStores } from '../../src/db/sqlite/stores.js';
import type { RepoStore } from '../../src/db/stores.js';
import { isGitgateError } from '../../src/errors.js';

const T0 = Date.parse('2024-05-01T00:00:00.000Z');
let clock: number;
let stores: SqliteStores;
let db: Db;
let repos: RepoStore;
let svc: TokenService;
const cleanups: (() => void)[] = [];

function service(on: SqliteStores = stores, opts: { cacheTtlMs?: number } = {}): TokenService {
  return new TokenService(on, { bcryptRounds: 4, now: () => clock, ...opts });
}

beforeEach(async () => {
  clock = T0;
  stores = new SqliteStores(':memory:');
  db = stores.db;
  repos = stores.repos;
  for (const id of ['a', 'b', 'c']) await repos.insert({ id, name: `name-${id}` });
  svc = service();
});
afterEach(() => {
  vi.restoreAllMocks();
  for (const fn of cleanups.splice(0)) fn();
  if (db.open) db.close();
});

async function mint(input: CreateTokenInput, minter: TokenRecord | null = null, on = svc) {
  return on.create(input, minter);
}

async function errorCode(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    return isGitgateError(err) ? err.code : `non-gitgate: ${String(err)}`;
  }
  return undefined;
}

function compareSpy() {
  return vi.spyOn(bcrypt, 'compare');
}

describe('create', () => {
  it('mints an operator workspace token: admin by default, shown once, stored only as a bcrypt hash', async () => {
    const { secret, record } = await mint({ kind: 'workspace' });
    expect(parseSecret(secret)).toEqual({ kind: 'workspace', id: record.id });
    expect(record).toMatchObject({
      kind: 'workspace',
      permission: 'admin',
      repo_ids: [],
      created_at: '2024-05-01T00:00:00.000Z',
      expires_at: null,
      revoked_at: null,
      last_used_at: null,
      created_by: null,
    });
    expect(record.name).toMatch(/workspace/);
    const row = db.prepare('SELECT * FROM tokens WHERE id = ?').get(record.id) as Record<string, string>;
    expect(row.secret_hash).toMatch(/^\$2[aby]\$04\$/);
    expect(JSON.stringify(row)).not.toContain(secret.slice(20, 52));
    expect(await bcrypt.compare(secret, row.secret_hash)).toBe(true);
    expect(await svc.get(record.id)).toEqual(record);
  });

  it('mints repo tokens with write by default, resolving names and dropping duplicates', async () => {
    const { secret, record } = await mint({ kind: 'repo', repoIds: ['name-b', 'a', 'b'], name: 'agent' });
    expect(secret.startsWith('ggr_')).toBe(true);
    expect(record).toMatchObject({ kind: 'repo', permission: 'write', name: 'agent', repo_ids: ['b', 'a'] });
    expect((await svc.get(record.id))!.repo_ids).toEqual(['b', 'a']);
  });

  it('sets expires_at from ttlSeconds', async () => {
    const { record } = await mint({ kind: 'repo', repoIds: ['a'], ttlSeconds: 90 });
    expect(record.expires_at).toBe('2024-05-01T00:01:30.000Z');
  });

  it('validates input', async () => {
    expect(await errorCode(mint({ kind: 'repo' }))).toBe('VALIDATION');
    expect(await errorCode(mint({ kind: 'repo', repoIds: [] }))).toBe('VALIDATION');
    expect(await errorCode(mint({ kind: 'workspace', repoIds: ['a'] }))).toBe('VALIDATION');
    expect(await errorCode(mint({ kind: 'repo', repoIds: ['a'], permission: 'owner' as never }))).toBe('VALIDATION');
    expect(await errorCode(mint({ kind: 'bogus' as never }))).toBe('VALIDATION');
    for (const ttl of [0, -5, Number.NaN, Infinity]) {
      expect(await errorCode(mint({ kind: 'repo', repoIds: ['a'], ttlSeconds: ttl })), String(ttl)).toBe('VALIDATION');
    }
    expect(await errorCode(mint({ kind: 'repo', repoIds: ['a'], name: 'x\ny' }))).toBe('VALIDATION');
    expect(await svc.count()).toBe(0);
  });

  it('unknown repositories give REPO_NOT_FOUND to unrestricted minters', async () => {
    expect(await errorCode(mint({ kind: 'repo', repoIds: ['a', 'nope'] }))).toBe('REPO_NOT_FOUND');
    const { record: ws } = await mint({ kind: 'workspace' });
    expect(await errorCode(mint({ kind: 'repo', repoIds: ['nope'] }, ws))).toBe('REPO_NOT_FOUND');
  });
});

describe('attenuation through create', () => {
  it('a workspace admin mints workspace and repo tokens of every permission', async () => {
    const { record: root } = await mint({ kind: 'workspace' });
    for (const permission of ['read', 'write', 'admin'] as const) {
      expect((await mint({ kind: 'workspace', permission }, root)).record.created_by).toBe(root.id);
      expect((await mint({ kind: 'repo', permission, repoIds: ['c'] }, root)).record.permission).toBe(permission);
    }
  });

  it('non-admin tokens cannot mint', async () => {
    for (const permission of ['read', 'write'] as const) {
      const { record: ws } = await mint({ kind: 'workspace', permission });
      const { record: rp } = await mint({ kind: 'repo', permission, repoIds: ['a'] });
      expect(await errorCode(mint({ kind: 'repo', permission: 'read', repoIds: ['a'] }, ws))).toBe('ATTENUATION');
      expect(await errorCode(mint({ kind: 'repo', permission: 'read', repoIds: ['a'] }, rp))).toBe('ATTENUATION');
    }
  });

  it('a repo admin mints repo tokens only within its repos, never workspace tokens', async () => {
    const { record: repoAdmin } = await mint({ kind: 'repo', permission: 'admin', repoIds: ['a', 'b'] });
    const ok = await mint({ kind: 'repo', permission: 'admin', repoIds: ['b'] }, repoAdmin);
    expect(ok.record).toMatchObject({ repo_ids: ['b'], created_by: repoAdmin.id });
    const err = mint({ kind: 'repo', repoIds: ['a', 'c'] }, repoAdmin);
    await expect(err).rejects.toThrow(/repository c is outside/);
    expect(await errorCode(mint({ kind: 'workspace', permission: 'read' }, repoAdmin))).toBe('ATTENUATION');
  });

  it('a repo admin gets the same answer for a missing and an out-of-scope repository', async () => {
    const { record: repoAdmin } = await mint({ kind: 'repo', permission: 'admin', repoIds: ['a'] });
    expect(await errorCode(mint({ kind: 'repo', repoIds: ['does-not-exist'] }, repoAdmin))).toBe('ATTENUATION');
    expect(await errorCode(mint({ kind: 'repo', repoIds: ['c'] }, repoAdmin))).toBe('ATTENUATION');
  });

  it('a repo admin omitting repoIds mints for its whole scope', async () => {
    const { record: repoAdmin } = await mint({ kind: 'repo', permission: 'admin', repoIds: ['a', 'b'] });
    expect((await mint({ kind: 'repo', permission: 'read' }, repoAdmin)).record.repo_ids).toEqual(['a', 'b']);
  });

  it('expiry: a child never outlives an expiring minter; no ttl inherits the minter expiry', async () => {
    const { record: minter } = await mint({ kind: 'workspace', ttlSeconds: 100 });
    expect(await errorCode(mint({ kind: 'repo', repoIds: ['a'], ttlSeconds: 101 }, minter))).toBe('ATTENUATION');
    expect((await mint({ kind: 'repo', repoIds: ['a'], ttlSeconds: 100 }, minter)).record.expires_at).toBe(minter.expires_at);
    expect((await mint({ kind: 'repo', repoIds: ['a'], ttlSeconds: 10 }, minter)).record.expires_at).toBe('2024-05-01T00:00:10.000Z');
    expect((await mint({ kind: 'repo', repoIds: ['a'] }, minter)).record.expires_at).toBe(minter.expires_at);
    expect((await mint({ kind: 'repo', repoIds: ['a'], ttlSeconds: null }, minter)).record.expires_at).toBe(minter.expires_at);
    // a non-expiring minter's child without ttl never expires
    const { record: forever } = await mint({ kind: 'workspace' });
    expect((await mint({ kind: 'repo', repoIds: ['a'] }, forever)).record.expires_at).toBeNull();
  });

  it('a refused mint stores nothing', async () => {
    const { record: repoAdmin } = await mint({ kind: 'repo', permission: 'admin', repoIds: ['a'] });
    await errorCode(mint({ kind: 'repo', repoIds: ['b'] }, repoAdmin));
    expect(await svc.count()).toBe(1);
  });
});

describe('verify', () => {
  it('accepts the secret and returns the record', async () => {
    const { secret, record } = await mint({ kind: 'repo', repoIds: ['a'], permission: 'read' });
    expect(await svc.verify(secret)).toMatchObject({ id: record.id, kind: 'repo', permission: 'read', repo_ids: ['a'] });
  });

  it('rejects a checksum-valid secret with the wrong random part', async () => {
    const { record } = await mint({ kind: 'repo', repoIds: ['a'] });
    expect(await svc.verify(generateSecret('repo', record.id))).toBeNull();
  });

  it('rejects malformed and mistyped secrets without touching the database', async () => {
    const { secret } = await mint({ kind: 'workspace' });
    db.close(); // any query would now throw
    const typo = secret.slice(0, 30) + (secret[30] === 'x' ? 'y' : 'x') + secret.slice(31);
    expect(await svc.verify(typo)).toBeNull();
    expect(await svc.verify('')).toBeNull();
    expect(await svc.verify('hunter2')).toBeNull();
  });

  it('unknown ids still cost one bcrypt compare (no timing oracle) and fail', async () => {
    const spy = compareSpy();
    const unknown = generateSecret('repo', 'tok_0000000000000000');
    expect(await svc.verify(unknown)).toBeNull();
    expect(spy).toHaveBeenCalledTimes(1);
    // the dummy hash uses the configured cost
    const hashArg = spy.mock.calls[0]![1] as string;
    expect(bcrypt.getRounds(hashArg)).toBe(4);
  });

  it('expired tokens fail like unknown ones, also when cached', async () => {
    const { secret } = await mint({ kind: 'repo', repoIds: ['a'], ttlSeconds: 60 });
    clock = T0 + 59_999;
    expect(await svc.verify(secret)).not.toBeNull(); // now cached
    clock = T0 + 60_000;
    expect(await svc.verify(secret)).toBeNull();
    clock = T0 - 1; // cache entry was dropped: back in time it verifies again through bcrypt
    const spy = compareSpy();
    expect(await svc.verify(secret)).not.toBeNull();
    expect(spy).toHaveBeenCalledTimes(1);
  });

  it('rejects a secret whose kind prefix does not match the stored kind', async () => {
    // forge a ggw_ secret around a repo token's id: checksum valid, kind wrong
    const { record } = await mint({ kind: 'repo', repoIds: ['a'] });
    expect(await svc.verify(generateSecret('workspace', record.id))).toBeNull();
  });

  it('reflects repository deletion in the scope at once, even for a cached token', async () => {
    const { secret } = await mint({ kind: 'repo', repoIds: ['a', 'b'] });
    expect((await svc.verify(secret))!.repo_ids).toEqual(['a', 'b']);
    await repos.delete('a');
    expect((await svc.verify(secret))!.repo_ids).toEqual(['b']);
  });
});

describe('verification cache', () => {
  it('a cache hit avoids bcrypt', async () => {
    const { secret } = await mint({ kind: 'repo', repoIds: ['a'] });
    const spy = compareSpy();
    for (let i = 0; i < 5; i++) expect(await svc.verify(secret)).not.toBeNull();
    expect(spy).toHaveBeenCalledTimes(1);
  });

  it('concurrent first requests share one bcrypt run', async () => {
    const { secret } = await mint({ kind: 'repo', repoIds: ['a'] });
    const spy = compareSpy();
    const results = await Promise.all(Array.from({ length: 6 }, () => svc.verify(secret)));
    expect(results.every((r) => r !== null)).toBe(true);
    expect(spy).toHaveBeenCalledTimes(1);
  });

  it('entries lapse after cacheTtlMs', async () => {
    const short = service(stores, { cacheTtlMs: 1000 });
    const { secret } = await mint({ kind: 'repo', repoIds: ['a'] }, null, short);
    const spy = compareSpy();
    await short.verify(secret);
    clock += 999;
    await short.verify(secret);
    expect(spy).toHaveBeenCalledTimes(1);
    clock += 1;
    await short.verify(secret);
    expect(spy).toHaveBeenCalledTimes(2);
  });

  it('a failed verify is not cached: the right secret still works after a wrong one', async () => {
    const { secret, record } = await mint({ kind: 'repo', repoIds: ['a'] });
    expect(await svc.verify(generateSecret('repo', record.id))).toBeNull();
    expect(await svc.verify(secret)).not.toBeNull();
  });

  it('revocation is visible at once through the cache', async () => {
    const { secret, record } = await mint({ kind: 'repo', repoIds: ['a'] });
    expect(await svc.verify(secret)).not.toBeNull();
    await svc.revoke(record.id);
    expect(await svc.verify(secret)).toBeNull();
  });

  it('revocation also evicts the cache entry (a later bcrypt is needed even if the row came back)', async () => {
    const { secret, record } = await mint({ kind: 'repo', repoIds: ['a'] });
    await svc.verify(secret);
    await svc.revoke(record.id);
    db.prepare('UPDATE tokens SET revoked_at = NULL WHERE id = ?').run(record.id); // operator surgery
    const spy = compareSpy();
    expect(await svc.verify(secret)).not.toBeNull();
    expect(spy).toHaveBeenCalledTimes(1);
  });

  it('revocation by a second TokenService on the same database file is visible on the next request', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitgate-tokens-'));
    const file = path.join(dir, 'gitgate.sqlite');
    const serverDb = new SqliteStores(file);
    const cliDb = new SqliteStores(file); // a separate connection, as the CLI process would have
    cleanups.push(() => {
      serverDb.db.close();
      cliDb.db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    const server = service(serverDb);
    const cli = service(cliDb);
    const { secret, record } = await mint({ kind: 'workspace' }, null, cli);
    expect(await server.verify(secret)).not.toBeNull(); // cached in the server
    const spy = compareSpy();
    expect(await server.verify(secret)).not.toBeNull();
    expect(await cli.revoke(record.id)).toBe(1);
    expect(await server.verify(secret)).toBeNull();
    expect(spy).not.toHaveBeenCalled(); // answered from the cache path, yet saw the revocation
  });
});

describe('revoke', () => {
  it('revokes, keeps the record for metadata, and counts only newly revoked tokens', async () => {
    const { secret, record } = await mint({ kind: 'repo', repoIds: ['a'] });
    clock += 5000;
    expect(await svc.revoke(record.id)).toBe(1);
    expect((await svc.get(record.id))!.revoked_at).toBe('2024-05-01T00:00:05.000Z');
    expect(await svc.verify(secret)).toBeNull();
    expect(await svc.revoke(record.id)).toBe(0);
  });

  it('unknown ids give TOKEN_NOT_FOUND', async () => {
    let caught: unknown;
    try {
      await svc.revoke('tok_doesnotexist000');
    } catch (err) {
      caught = err;
    }
    expect(isGitgateError(caught, 'TOKEN_NOT_FOUND')).toBe(true);
  });

  it('cascades transitively through three levels, sparing siblings and ancestors', async () => {
    const root = await mint({ kind: 'workspace' });
    const a = await mint({ kind: 'workspace', permission: 'admin' }, root.record);
    const b = await mint({ kind: 'repo', permission: 'admin', repoIds: ['a', 'b'] }, a.record);
    const c = await mint({ kind: 'repo', permission: 'read', repoIds: ['a'] }, b.record);
    const sibling = await mint({ kind: 'repo', permission: 'read', repoIds: ['a'] }, root.record);
    for (const t of [root, a, b, c, sibling]) expect(await svc.verify(t.secret)).not.toBeNull(); // all cached

    expect(await svc.revoke(a.record.id)).toBe(3);
    for (const t of [a, b, c]) {
      expect(await svc.verify(t.secret)).toBeNull();
      expect((await svc.get(t.record.id))!.revoked_at).not.toBeNull();
    }
    expect(await svc.verify(root.secret)).not.toBeNull();
    expect(await svc.verify(sibling.secret)).not.toBeNull();
    expect(await svc.revoke(b.record.id)).toBe(0);
  });

  it('a revoked token can no longer mint', async () => {
    const { record } = await mint({ kind: 'workspace' });
    await svc.revoke(record.id);
    expect(await errorCode(mint({ kind: 'repo', repoIds: ['a'] }, (await svc.get(record.id))))).toBe('ATTENUATION');
  });
});

describe('last_used coalescing', () => {
  function lastUsed(id: string) {
    return db.prepare('SELECT last_used_at, last_used_ip FROM tokens WHERE id = ?').get(id);
  }

  it('writes last_used_at/ip at most once a minute per token', async () => {
    const { secret, record } = await mint({ kind: 'repo', repoIds: ['a'] });
    const first = await svc.verify(secret, '10.0.0.1');
    expect(first).toMatchObject({ last_used_at: '2024-05-01T00:00:00.000Z', last_used_ip: '10.0.0.1' });
    expect(lastUsed(record.id)).toEqual({ last_used_at: '2024-05-01T00:00:00.000Z', last_used_ip: '10.0.0.1' });

    clock = T0 + 59_999;
    await svc.verify(secret, '10.0.0.2');
    expect(lastUsed(record.id)).toEqual({ last_used_at: '2024-05-01T00:00:00.000Z', last_used_ip: '10.0.0.1' });

    clock = T0 + 60_000;
    await svc.verify(secret, '10.0.0.3');
    expect(lastUsed(record.id)).toEqual({ last_used_at: '2024-05-01T00:01:00.000Z', last_used_ip: '10.0.0.3' });
  });

  it('coalesces per token, not globally', async () => {
    const one = await mint({ kind: 'repo', repoIds: ['a'] });
    const two = await mint({ kind: 'repo', repoIds: ['a'] });
    await svc.verify(one.secret, '1.1.1.1');
    clock += 1000;
    await svc.verify(two.secret, '2.2.2.2');
    expect(lastUsed(two.record.id)).toEqual({ last_used_at: '2024-05-01T00:00:01.000Z', last_used_ip: '2.2.2.2' });
  });

  it('a failed verify does not count as use', async () => {
    const { record } = await mint({ kind: 'repo', repoIds: ['a'] });
    await svc.verify(generateSecret('repo', record.id), '6.6.6.6');
    expect(lastUsed(record.id)).toEqual({ last_used_at: null, last_used_ip: null });
  });
});

describe('get / resolve / count', () => {
  it('resolve accepts a public id or a full secret, and nothing else', async () => {
    const { secret, record } = await mint({ kind: 'repo', repoIds: ['a'] });
    expect((await svc.resolve(record.id))?.id).toBe(record.id);
    expect((await svc.resolve(secret))?.id).toBe(record.id);
    const typo = secret.slice(0, 10) + (secret[10] === 'q' ? 'r' : 'q') + secret.slice(11);
    expect(await svc.resolve(typo)).toBeNull();
    expect(await svc.resolve(generateSecret('workspace', record.id))).toBeNull(); // kind mismatch
    expect(await svc.resolve('tok_doesnotexist000')).toBeNull();
    expect(await svc.resolve('anything')).toBeNull();
    expect(await svc.get('nope')).toBeNull();
  });

  it('resolve returns revoked tokens too (their metadata stays readable)', async () => {
    const { record } = await mint({ kind: 'repo', repoIds: ['a'] });
    await svc.revoke(record.id);
    expect((await svc.resolve(record.id))?.revoked_at).not.toBeNull();
  });

  it('count counts every token, revoked or not', async () => {
    expect(await svc.count()).toBe(0);
    const { record } = await mint({ kind: 'workspace' });
    await mint({ kind: 'repo', repoIds: ['a'] });
    await svc.revoke(record.id);
    expect(await svc.count()).toBe(2);
  });
});

describe('list', () => {
  async function seed() {
    const root = await mint({ kind: 'workspace', name: 'root' });
    clock += 1000;
    const repoAdmin = await mint({ kind: 'repo', permission: 'admin', repoIds: ['a', 'b'], name: 'ra' }, root.record);
    clock += 1000;
    const inside = await mint({ kind: 'repo', permission: 'read', repoIds: ['a'], name: 'inside' }, repoAdmin.record);
    clock += 1000;
    const straddling = await mint({ kind: 'repo', permission: 'read', repoIds: ['a', 'c'], name: 'straddling' });
    clock += 1000;
    const other = await mint({ kind: 'repo', permission: 'write', repoIds: ['c'], name: 'other' });
    clock += 1000;
    const revoked = await mint({ kind: 'repo', permission: 'read', repoIds: ['b'], name: 'revoked' });
    await svc.revoke(revoked.record.id);
    return { root, repoAdmin, inside, straddling, other, revoked };
  }
  const names = (page: { items: TokenRecord[] }) => page.items.map((t) => t.name);

  it('lists live tokens oldest first, with offset pagination', async () => {
    await seed();
    const p1 = await svc.list({ page_size: 2 });
    expect(names(p1)).toEqual(['root', 'ra']);
    expect(p1).toMatchObject({ total_items: 5, next_page: 2 });
    const p3 = await svc.list({ page_size: 2, page_start: 4 });
    expect(names(p3)).toEqual(['other']);
    expect(p3.next_page).toBeNull();
    expect(p1.items[1]!.repo_ids).toEqual(['a', 'b']);
  });

  it('include_revoked adds revoked tokens', async () => {
    await seed();
    expect((await svc.list({ include_revoked: true })).total_items).toBe(6);
    expect(names(await svc.list({ include_revoked: true })).at(-1)).toBe('revoked');
  });

  it('filters by repository scope', async () => {
    await seed();
    expect(names(await svc.list({ repo_id: 'a' }))).toEqual(['ra', 'inside', 'straddling']);
    expect(names(await svc.list({ repo_id: 'c' }))).toEqual(['straddling', 'other']);
    expect(names(await svc.list({ repo_id: 'b', include_revoked: true }))).toEqual(['ra', 'revoked']);
  });

  it('visibleTo matches policy.canManageToken for every viewer, counts included', async () => {
    const all = await seed();
    const everyone = (await svc.list({ include_revoked: true })).items;
    for (const viewer of Object.values(all).map((t) => t.record)) {
      const expected = everyone.filter((t) => canManageToken(viewer, t)).map((t) => t.name);
      const page = await svc.list({ include_revoked: true, visibleTo: viewer });
      expect(names(page), viewer.name).toEqual(expected);
      expect(page.total_items).toBe(expected.length);
    }
    // and concretely: the repo admin sees itself and the token inside its scope only
    expect(names(await svc.list({ visibleTo: all.repoAdmin.record }))).toEqual(['ra', 'inside']);
    expect(names(await svc.list({ visibleTo: all.root.record }))).toHaveLength(5);
  });

  it('validates paging', async () => {
    await expect(svc.list({ page_size: 0 })).rejects.toThrow(/page_size/);
    await expect(svc.list({ page_start: -1 })).rejects.toThrow(/page_start/);
  });
});
