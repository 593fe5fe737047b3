// `gitgate db copy --from sqlite:PATH --to postgres://…`: a single-node installation moves to
// PostgreSQL without losing a token (hashes, scope, rotation, revocation), repository, protected
// ref, audit event (ids kept, new ones after them), webhook, delivery, attempt or cursor.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PostgresStores } from '../../src/db/postgres/stores.js';
import { SqliteStores } from '../../src/db/sqlite/stores.js';
import type { Stores } from '../../src/db/stores.js';
import type { TokenRecord } from '../../src/db/records.js';
import { runCli } from '../helpers/cli.js';
import { freshDatabase } from '../helpers/postgres.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const T0 = Date.parse('2025-03-01T00:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

function token(id: string, over: Partial<TokenRecord> = {}): TokenRecord {
  return {
    id, kind: 'repo', permission: 'write', name: id, repo_ids: [], refs: [], allow_force: true, allow_delete: true,
    created_at: iso(T0), expires_at: null, revoked_at: null, last_used_at: null, last_used_ip: null, created_by: null, ...over,
  };
}

/** Everything a store shows, engine-neutral, for comparing two installations. */
async function snapshot(s: Stores) {
  const tokens = (await s.tokens.list({ pageSize: 1000, pageStart: 0, includeRevoked: true })).items;
  const repos = (await s.repos.list({ page_size: 1000 })).items;
  const hooks = await s.webhooks.all();
  return {
    tokens: await Promise.all(tokens.map((t) => s.tokens.getWithHashes(t.id))),
    repos,
    protectedRefs: await Promise.all(repos.map((r) => s.repos.protectedRefs(r.id))),
    audit: await s.audit.after(0, 1000),
    hooks,
    attempts: await Promise.all(hooks.map((h) => s.webhooks.attempts(h.id, 100, 0))),
    cursor: await s.webhooks.dispatchCursor(),
    nextDue: await s.webhooks.nextDue(),
  };
}

describe('gitgate db copy', () => {
  it('copies every row into an empty PostgreSQL, refuses a non-empty one', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitgate-copy-'));
    cleanups.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'gitgate.db');
    const sqlite = new SqliteStores(file, { now: () => T0 });
    await sqlite.repos.insert({ id: 'r1', name: 'alpha', metadata: { team: 'core' } });
    await sqlite.repos.insert({ id: 'r2', default_branch: 'trunk' });
    await sqlite.repos.setProtectedRefs('r1', ['refs/heads/main', 'refs/tags/*']);
    await sqlite.tokens.insert(token('tok_root', { kind: 'workspace', permission: 'admin' }), 'hash-root', iso(T0));
    await sqlite.tokens.insert(token('tok_child', { created_by: 'tok_root', repo_ids: ['r2', 'r1'], refs: ['refs/heads/agent/*'], allow_force: false }), 'hash-child', iso(T0));
    await sqlite.tokens.insert(token('tok_gone', { created_by: 'tok_root', allow_delete: false }), 'hash-gone', iso(T0));
    await sqlite.tokens.rotate('tok_child', 'hash-child-2', iso(T0 + 60_000), iso(T0), null);
    await sqlite.tokens.markUsed('tok_child', iso(T0 + 5), '10.1.2.3');
    await sqlite.tokens.revokeTree('tok_gone', iso(T0 + 10));
    const ev = (ref: string) => ({ at: iso(T0), action: 'ref.update', actor_token_id: 'tok_child', client_ip: null, repo_ids: ['r1'], ref, old_oid: null, new_oid: 'b'.repeat(40), target_token_id: null, detail: { via: 'push' } });
    await sqlite.audit.append([ev('refs/heads/a'), ev('refs/heads/b'), ev('refs/heads/c')]);
    const hook = await sqlite.webhooks.create({ url: 'https://example.test/h', repoId: 'r1', events: ['push'], secret: 'whsec', createdBy: 'tok_root', afterEvent: 0, nowMs: T0 });
    await sqlite.webhooks.enqueue([1, 2, 3].map((id) => ({ webhookId: hook.id, eventId: id, eventType: 'push', body: `{"id":${id}}` })), 3, T0);
    const [d1] = await sqlite.webhooks.claimDue(T0, 1, T0 + 1000);
    await sqlite.webhooks.finish(d1!, { statusCode: 500, durationMs: 7, error: 'HTTP 500', state: 'pending', next: T0 + 2000, nowMs: T0 });
    const before = await snapshot(sqlite);
    await sqlite.close();

    const { url, drop } = await freshDatabase();
    cleanups.push(drop);
    const copy = await runCli(['db', 'copy', '--from', `sqlite:${dir}`, '--to', url, '--json']);
    expect(copy.stderr).toBe('');
    expect(copy.code).toBe(0);
    expect(JSON.parse(copy.stdout)).toMatchObject({ repos: 2, tokens: 3, token_repos: 2, protected_refs: 2, audit_events: 3, webhooks: 1, webhook_deliveries: 3, webhook_attempts: 1 });

    const pgStores = new PostgresStores(url, { now: () => T0 });
    cleanups.push(() => pgStores.close());
    expect(await snapshot(pgStores)).toEqual(before);
    expect(before.tokens.every((t) => t !== null)).toBe(true);
    // the trail continues after the copied ids
    await pgStores.audit.append([ev('refs/heads/d')]);
    expect((await pgStores.audit.after(before.audit.at(-1)!.id, 10)).map((e) => e.ref)).toEqual(['refs/heads/d']);

    const again = await runCli(['db', 'copy', '--from', `sqlite:${file}`, '--to', url]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already holds gitgate data/);
    expect((await pgStores.tokens.count())).toBe(3);
  });
});
