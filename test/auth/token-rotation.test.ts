// TokenService: ref scopes and rights on minting, secret rotation (grace periods, the
// positive cache, other processes), last use.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import bcrypt from 'bcrypt';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AuditLog } from '../../src/audit/audit-log.js';
import { parseSecret } from '../../src/auth/token-format.js';
import { TokenService, type CreateTokenInput, type TokenRecord } from '../../src/auth/token-service.js';
import { SqliteStores } from '../../src/db/sqlite/stores.js';
import { isGitgateError } from '../../src/errors.js';

const T0 = Date.parse('2024-05-01T00:00:00.000Z');
let clock: number;
let db: SqliteStores;
let audit: AuditLog;
let svc: TokenService;

beforeEach(async () => {
  clock = T0;
  db = new SqliteStores(':memory:');
  const repos = db.repos;
  for (const id of ['a', 'b']) await repos.insert({ id, name: `name-${id}` });
  audit = new AuditLog(db.audit, { now: () => clock });
  svc = new TokenService(db, { bcryptRounds: 4, now: () => clock, audit });
});
afterEach(() => {
  vi.restoreAllMocks();
  if (db.db.open) db.db.close();
});

async function errorOf(p: Promise<unknown>): Promise<{ code: string; message: string } | undefined> {
  try {
    await p;
  } catch (err) {
    if (isGitgateError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  return undefined;
}

const mint = (input: CreateTokenInput, minter: TokenRecord | null = null) => svc.create(input, minter);

describe('ref scopes and rights on minting', () => {
  it('defaults: unrestricted tokens keep force and delete, scoped ones get neither', async () => {
    const plain = await mint({ kind: 'repo', repoIds: ['a'] });
    expect(plain.record).toMatchObject({ refs: [], allow_force: true, allow_delete: true });
    const scoped = await mint({ kind: 'repo', repoIds: ['a'], refs: ['refs/heads/agent/*', 'refs/tags/*'] });
    expect(scoped.record).toMatchObject({ refs: ['refs/heads/agent/*', 'refs/tags/*'], allow_force: false, allow_delete: false });
    const explicit = await mint({ kind: 'repo', repoIds: ['a'], refs: ['refs/heads/agent/*'], allowForce: true, allowDelete: true });
    expect(explicit.record).toMatchObject({ allow_force: true, allow_delete: true });
    // stored, not just echoed
    expect(await svc.get(scoped.record.id)).toMatchObject({ refs: ['refs/heads/agent/*', 'refs/tags/*'], allow_force: false, allow_delete: false });
    expect(await svc.get(explicit.record.id)).toMatchObject({ allow_force: true, allow_delete: true });
  });

  it('rejects bad patterns with VALIDATION', async () => {
    expect(await errorOf(mint({ kind: 'repo', repoIds: ['a'], refs: ['heads/main'] }))).toMatchObject({ code: 'VALIDATION', message: /must start with refs\// });
    expect(await errorOf(mint({ kind: 'repo', repoIds: ['a'], refs: ['refs/heads/*/*'] }))).toMatchObject({ code: 'VALIDATION', message: /at most one \*/ });
  });

  it('children inherit the minter ref scope and rights when omitted; attenuation covers them', async () => {
    const parent = (await mint({ kind: 'repo', repoIds: ['a'], permission: 'admin', refs: ['refs/heads/agent/*'], allowDelete: true })).record;
    const child = (await mint({ kind: 'repo' }, parent)).record;
    expect(child).toMatchObject({ repo_ids: ['a'], refs: ['refs/heads/agent/*'], allow_force: false, allow_delete: false });
    const inside = (await mint({ kind: 'repo', refs: ['refs/heads/agent/7'], allowDelete: true }, parent)).record;
    expect(inside).toMatchObject({ refs: ['refs/heads/agent/7'], allow_delete: true });
    expect(await errorOf(mint({ kind: 'repo', refs: ['refs/heads/main'] }, parent))).toMatchObject({ code: 'ATTENUATION', message: /outside the minting token's ref scope/ });
    expect(await errorOf(mint({ kind: 'repo', refs: [] }, parent))).toMatchObject({ code: 'ATTENUATION', message: /needs a ref scope/ });
    expect(await errorOf(mint({ kind: 'repo', allowForce: true }, parent))).toMatchObject({ code: 'ATTENUATION', message: /may not force-push/ });
    // an unrestricted minter without force passes that lack on by default
    const noForce = (await mint({ kind: 'repo', repoIds: ['a'], permission: 'admin', allowForce: false })).record;
    expect((await mint({ kind: 'repo' }, noForce)).record).toMatchObject({ refs: [], allow_force: false, allow_delete: true });
  });
});

describe('rotate', () => {
  it('replaces the secret at once: the cached old secret fails on its very next use', async () => {
    const { secret: old, record } = await mint({ kind: 'repo', repoIds: ['a'], refs: ['refs/heads/x'] });
    expect((await svc.verify(old))?.id).toBe(record.id); // now in the positive cache
    const compare = vi.spyOn(bcrypt, 'compare');
    expect((await svc.verify(old))?.id).toBe(record.id);
    expect(compare).not.toHaveBeenCalled(); // served from the cache
    clock += 1000;
    const rotated = await svc.rotate(record.id);
    expect(parseSecret(rotated.secret)).toEqual({ kind: 'repo', id: record.id });
    expect(rotated.secret).not.toBe(old);
    expect(rotated.previous_secret_valid_until).toBeNull();
    expect(rotated.record).toMatchObject({ id: record.id, repo_ids: ['a'], refs: ['refs/heads/x'], allow_force: false, permission: 'write' });
    expect(await svc.verify(old)).toBeNull();
    expect((await svc.verify(rotated.secret))?.id).toBe(record.id);
    const events = (await audit.list({ action: 'token.rotate' })).items;
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ target_token_id: record.id, repo_ids: ['a'], actor_token_id: null, detail: { grace_seconds: 0, via: 'local' } });
  });

  it('a rotation by another process (same database) ends the cached old secret too', async () => {
    const { secret: old, record } = await mint({ kind: 'workspace' });
    expect(await svc.verify(old)).not.toBeNull();
    const other = new TokenService(db, { bcryptRounds: 4, now: () => clock });
    const { secret } = await other.rotate(record.id);
    expect(await svc.verify(old)).toBeNull();
    expect((await svc.verify(secret))?.id).toBe(record.id);
  });

  it('with a grace period both secrets work until it ends, then only the new one', async () => {
    const { secret: old, record } = await mint({ kind: 'repo', repoIds: ['a'] });
    expect(await svc.verify(old)).not.toBeNull();
    const rotated = await svc.rotate(record.id, { graceSeconds: 60 });
    expect(rotated.previous_secret_valid_until).toBe(new Date(T0 + 60_000).toISOString());
    expect((await svc.verify(old))?.id).toBe(record.id); // cached
    expect((await svc.verify(rotated.secret))?.id).toBe(record.id);
    expect((await svc.verify(old))?.id).toBe(record.id); // both stay cached side by side
    // a fresh process (empty cache) also takes the old one within the grace
    const fresh = new TokenService(db, { bcryptRounds: 4, now: () => clock });
    expect((await fresh.verify(old))?.id).toBe(record.id);
    clock += 60_001;
    expect(await svc.verify(old)).toBeNull();
    expect(await fresh.verify(old)).toBeNull();
    expect(await new TokenService(db, { bcryptRounds: 4, now: () => clock }).verify(old)).toBeNull();
    expect((await svc.verify(rotated.secret))?.id).toBe(record.id);
    expect((await audit.list({ action: 'token.rotate' })).items[0]?.detail).toMatchObject({ grace_seconds: 60, previous_secret_valid_until: rotated.previous_secret_valid_until });
  });

  it('rotating again ends the earlier grace period', async () => {
    const { secret: first, record } = await mint({ kind: 'repo', repoIds: ['a'] });
    const second = await svc.rotate(record.id, { graceSeconds: 600 });
    const third = await svc.rotate(record.id, { graceSeconds: 600 });
    expect(await svc.verify(first)).toBeNull();
    expect((await svc.verify(second.secret))?.id).toBe(record.id);
    expect((await svc.verify(third.secret))?.id).toBe(record.id);
  });

  it('refuses revoked and unknown tokens and bad grace values', async () => {
    const { record } = await mint({ kind: 'repo', repoIds: ['a'] });
    expect(await errorOf(svc.rotate(record.id, { graceSeconds: -1 }))).toMatchObject({ code: 'VALIDATION' });
    expect(await errorOf(svc.rotate(record.id, { graceSeconds: 8 * 24 * 3600 }))).toMatchObject({ code: 'VALIDATION' });
    expect(await errorOf(svc.rotate('tok_0000000000000000'))).toMatchObject({ code: 'TOKEN_NOT_FOUND' });
    await svc.revoke(record.id);
    expect(await errorOf(svc.rotate(record.id))).toMatchObject({ code: 'VALIDATION', message: /revoked or expired/ });
  });

  it('revocation during a grace period ends both secrets', async () => {
    const { secret: old, record } = await mint({ kind: 'repo', repoIds: ['a'] });
    const rotated = await svc.rotate(record.id, { graceSeconds: 600 });
    expect(await svc.verify(old)).not.toBeNull();
    expect(await svc.verify(rotated.secret)).not.toBeNull();
    await svc.revoke(record.id);
    expect(await svc.verify(old)).toBeNull();
    expect(await svc.verify(rotated.secret)).toBeNull();
  });
});

describe('last use', () => {
  it('records time and client address, coalesced to once a minute', async () => {
    const { secret, record } = await mint({ kind: 'repo', repoIds: ['a'] });
    expect(await svc.get(record.id)).toMatchObject({ last_used_at: null, last_used_ip: null });
    await svc.verify(secret, '10.0.0.7');
    expect(await svc.get(record.id)).toMatchObject({ last_used_at: new Date(T0).toISOString(), last_used_ip: '10.0.0.7' });
    clock += 10_000;
    await svc.verify(secret, '10.0.0.8'); // within the minute: not written
    expect(await svc.get(record.id)).toMatchObject({ last_used_at: new Date(T0).toISOString(), last_used_ip: '10.0.0.7' });
    clock += 60_000;
    await svc.verify(secret, '10.0.0.9');
    expect(await svc.get(record.id)).toMatchObject({ last_used_at: new Date(T0 + 70_000).toISOString(), last_used_ip: '10.0.0.9' });
  });
});

describe('file database', () => {
  it('keeps scopes, rights and the rotated secret across reopen', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitgate-rot-'));
    try {
      const file = path.join(dir, 'g.db');
      const d1 = new SqliteStores(file);
      await d1.repos.insert({ id: 'r' });
      const s1 = new TokenService(d1, { bcryptRounds: 4 });
      const { record } = await s1.create({ kind: 'repo', repoIds: ['r'], refs: ['refs/heads/a/*'], allowForce: true }, null);
      const { secret } = await s1.rotate(record.id);
      await d1.close();
      const d2 = new SqliteStores(file);
      const got = await new TokenService(d2, { bcryptRounds: 4 }).verify(secret);
      expect(got).toMatchObject({ id: record.id, refs: ['refs/heads/a/*'], allow_force: true, allow_delete: false });
      await d2.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
