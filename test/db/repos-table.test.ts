import { beforeEach, describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/sqlite/database.js';
import { SqliteStores } from '../../src/db/sqlite/stores.js';
import type { RepoStore } from '../../src/db/stores.js';
import { isGitgateError } from '../../src/errors.js';

let db: Db;
let repos: RepoStore;
let clock: number;

beforeEach(() => {
  clock = Date.parse('2024-03-01T12:00:00.000Z');
  const stores = new SqliteStores(':memory:', { now: () => clock });
  db = stores.db;
  repos = stores.repos;
});

async function codeOf(fn: () => unknown): Promise<string | undefined> {
  try {
    await fn();
  } catch (err) {
    return isGitgateError(err) ? err.code : `non-gitgate: ${String(err)}`;
  }
  return undefined;
}

/** Insert r0..r(n-1), one second apart. */
async function seed(n: number, metadata?: (i: number) => Record<string, string>): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    await repos.insert({ id: `r${i}`, metadata: metadata?.(i) ?? null });
    ids.push(`r${i}`);
    clock += 1000;
  }
  return ids;
}

describe('ReposTable.insert / get', () => {
  it('inserts with defaults and returns the stored row', async () => {
    const row = await repos.insert({ id: 'a' });
    expect(row).toEqual({ id: 'a', name: null, metadata: null, default_branch: 'main', created_at: '2024-03-01T12:00:00.000Z', updated_at: null });
    expect(await repos.get('a')).toEqual(row);
  });

  it('round-trips metadata and a custom default branch', async () => {
    await repos.insert({ id: 'a', name: 'alpha', metadata: { team: 'x', 'a.b': 'c' }, default_branch: 'trunk' });
    const row = (await repos.get('a'))!;
    expect(row.metadata).toEqual({ team: 'x', 'a.b': 'c' });
    expect(row.default_branch).toBe('trunk');
  });

  it('gets by id first, then by unique name', async () => {
    await repos.insert({ id: 'id-1', name: 'project' });
    expect((await repos.get('project'))?.id).toBe('id-1');
    expect((await repos.get('id-1'))?.name).toBe('project');
    expect(await repos.get('missing')).toBeNull();
  });

  it('rejects a duplicate name with NAME_TAKEN, and allows many unnamed repos', async () => {
    await repos.insert({ id: 'a', name: 'same' });
    expect(await codeOf(async () => (await repos.insert({ id: 'b', name: 'same' })))).toBe('NAME_TAKEN');
    await repos.insert({ id: 'c' });
    await repos.insert({ id: 'd', name: null });
    expect((await repos.list({})).total_items).toBe(3);
  });

  it('refuses names and ids that would shadow each other in get()', async () => {
    await repos.insert({ id: 'a', name: 'named' });
    expect(await codeOf(async () => (await repos.insert({ id: 'b', name: 'a' })))).toBe('NAME_TAKEN');
    expect(await codeOf(async () => (await repos.insert({ id: 'named' })))).toBe('VALIDATION');
  });

  it('reports a duplicate id as VALIDATION, not NAME_TAKEN', async () => {
    await repos.insert({ id: 'a' });
    expect(await codeOf(async () => (await repos.insert({ id: 'a', name: 'fresh' })))).toBe('VALIDATION');
  });

  it('validates names and metadata', async () => {
    for (const name of ['', 'has space', 'a/b', 'x.git', '.hidden', '-flag', 'a'.repeat(101), 'ü']) {
      expect(await codeOf(async () => (await repos.insert({ id: `id-${name}`, name }))), name).toBe('VALIDATION');
    }
    expect(await codeOf(async () => (await repos.insert({ id: 'm', metadata: { n: 1 } as unknown as Record<string, string> })))).toBe('VALIDATION');
    expect(await codeOf(async () => (await repos.insert({ id: 'ok', name: 'My_repo-1.0' })))).toBeUndefined();
  });
});

describe('ReposTable.list', () => {
  it('paginates with page_start as an offset and next_page as the next offset', async () => {
    await seed(7);
    const p1 = await repos.list({ page_size: 3 });
    expect(p1.items.map((r) => r.id)).toEqual(['r0', 'r1', 'r2']);
    expect(p1).toMatchObject({ total_items: 7, next_page: 3 });
    const p2 = await repos.list({ page_size: 3, page_start: 3 });
    expect(p2.items.map((r) => r.id)).toEqual(['r3', 'r4', 'r5']);
    expect(p2.next_page).toBe(6);
    const p3 = await repos.list({ page_size: 3, page_start: 6 });
    expect(p3.items.map((r) => r.id)).toEqual(['r6']);
    expect(p3.next_page).toBeNull();
    expect(await repos.list({ page_start: 50 })).toEqual({ items: [], total_items: 7, next_page: null });
  });

  it('defaults to 100 per page and refuses page sizes outside 1..1000', async () => {
    await seed(105);
    const page = await repos.list({});
    expect(page.items).toHaveLength(100);
    expect(page.next_page).toBe(100);
    expect((await repos.list({ page_size: 1000 })).items).toHaveLength(105);
    for (const bad of [0, -1, 1001, 2.5]) expect(await codeOf(async () => (await repos.list({ page_size: bad }))), String(bad)).toBe('VALIDATION');
    expect(await codeOf(async () => (await repos.list({ page_start: -1 })))).toBe('VALIDATION');
  });

  it('orders by created_at ascending or descending, stable within one millisecond', async () => {
    await seed(3);
    clock -= 1000; // z and y share r2's timestamp: insertion order (not id order) breaks the tie
    await repos.insert({ id: 'z' });
    await repos.insert({ id: 'y' });
    expect((await repos.list({})).items.map((r) => r.id)).toEqual(['r0', 'r1', 'r2', 'z', 'y']);
    expect((await repos.list({ order_descending: true })).items.map((r) => r.id)).toEqual(['y', 'z', 'r2', 'r1', 'r0']);
  });

  it('orders by updated_at, counting never-updated repos by their creation time', async () => {
    await seed(3); // r0 @0s, r1 @1s, r2 @2s; clock now @3s
    await repos.touch('r0'); // r0 -> 3s
    expect((await repos.get('r0'))!.updated_at).toBe('2024-03-01T12:00:03.000Z');
    expect((await repos.list({ order_by: 'updated_at' })).items.map((r) => r.id)).toEqual(['r1', 'r2', 'r0']);
    expect((await repos.list({ order_by: 'updated_at', order_descending: true })).items.map((r) => r.id)).toEqual(['r0', 'r2', 'r1']);
    expect((await repos.list({ order_by: 'created_at' })).items.map((r) => r.id)).toEqual(['r0', 'r1', 'r2']);
  });

  it('filters by created_after / created_before (exclusive), accepting any parseable date', async () => {
    await seed(5); // 12:00:00 .. 12:00:04
    const ids = async (q: Parameters<RepoStore['list']>[0]) => (await repos.list(q)).items.map((r) => r.id);
    expect(await ids({ created_after: '2024-03-01T12:00:01.000Z' })).toEqual(['r2', 'r3', 'r4']);
    expect(await ids({ created_before: '2024-03-01T12:00:02.000Z' })).toEqual(['r0', 'r1']);
    expect(await ids({ created_after: '2024-03-01T12:00:00Z', created_before: '2024-03-01T13:00:03+01:00' })).toEqual(['r1', 'r2']);
    expect((await repos.list({ created_after: '2024-03-01T12:00:02.000Z' })).total_items).toBe(2);
    expect(await codeOf(async () => (await repos.list({ created_after: 'yesterday-ish' })))).toBe('VALIDATION');
  });

  it('filters by metadata: every given pair must match exactly', async () => {
    await seed(4, (i) => ({ team: i % 2 ? 'odd' : 'even', tier: i < 2 ? 'low' : 'high', 'dotted.key': `v${i}` }));
    await repos.insert({ id: 'plain' }); // null metadata never matches
    const ids = async (filter: Record<string, string>) => (await repos.list({ filter_metadata: filter })).items.map((r) => r.id);
    expect(await ids({ team: 'odd' })).toEqual(['r1', 'r3']);
    expect(await ids({ team: 'odd', tier: 'high' })).toEqual(['r3']);
    expect(await ids({ 'dotted.key': 'v2' })).toEqual(['r2']);
    expect(await ids({ team: 'none' })).toEqual([]);
    expect(await ids({ missing: 'x' })).toEqual([]);
    expect((await repos.list({ filter_metadata: { team: 'even' } })).total_items).toBe(2);
    expect((await repos.list({ filter_metadata: {} })).total_items).toBe(5);
  });

  it('restricts to the given ids (a repo token sees only its scope), with counts to match', async () => {
    await seed(5);
    const page = await repos.list({ ids: ['r3', 'r1', 'unknown'], page_size: 1 });
    expect(page.items.map((r) => r.id)).toEqual(['r1']);
    expect(page.total_items).toBe(2);
    expect(page.next_page).toBe(1);
    expect(await repos.list({ ids: [] })).toEqual({ items: [], total_items: 0, next_page: null });
  });
});

describe('ReposTable.update / touch / delete', () => {
  it('update replaces metadata and touches updated_at; unknown ids give null', async () => {
    await repos.insert({ id: 'a', metadata: { k: 'v' } });
    clock += 5000;
    const row = (await repos.update('a', { metadata: { k2: 'v2' } }))!;
    expect(row.metadata).toEqual({ k2: 'v2' });
    expect(row.updated_at).toBe('2024-03-01T12:00:05.000Z');
    expect(await repos.get('a')).toEqual(row);
    expect((await repos.update('a', { metadata: null }))!.metadata).toBeNull();
    expect(await repos.update('zzz', { metadata: {} })).toBeNull();
  });

  it('delete removes the row and its token scopes, and says whether it existed', async () => {
    await repos.insert({ id: 'a', name: 'alpha' });
    await repos.insert({ id: 'b' });
    db.prepare("INSERT INTO tokens (id, kind, permission, name, secret_hash, created_at) VALUES ('t1', 'repo', 'read', 'n', 'h', 'x')").run();
    db.prepare("INSERT INTO token_repos (token_id, repo_id) VALUES ('t1', 'a'), ('t1', 'b')").run();

    expect(await repos.delete('a')).toBe(true);
    expect(await repos.get('a')).toBeNull();
    expect(await repos.get('alpha')).toBeNull();
    expect(db.prepare('SELECT repo_id FROM token_repos').all()).toEqual([{ repo_id: 'b' }]);
    expect(await repos.delete('a')).toBe(false);
    // the name is free again
    expect((await repos.insert({ id: 'c', name: 'alpha' })).name).toBe('alpha');
  });

  it('delete removes scopes even with foreign keys switched off (no reliance on ON DELETE CASCADE)', async () => {
    db.pragma('foreign_keys = OFF');
    await repos.insert({ id: 'a' });
    db.prepare("INSERT INTO tokens (id, kind, permission, name, secret_hash, created_at) VALUES ('t1', 'repo', 'read', 'n', 'h', 'x')").run();
    db.prepare("INSERT INTO token_repos (token_id, repo_id) VALUES ('t1', 'a')").run();
    await repos.delete('a');
    expect(db.prepare('SELECT COUNT(*) AS n FROM token_repos').get()).toEqual({ n: 0 });
  });
});

describe('ReposTable protected refs', () => {
  it('replaces the list in order, de-duplicated, per repository; delete drops it even without foreign keys', async () => {
    await repos.insert({ id: 'a' });
    await repos.insert({ id: 'b' });
    expect(await repos.protectedRefs('a')).toEqual([]);
    expect(await repos.setProtectedRefs('a', ['refs/tags/*', 'refs/heads/main', 'refs/tags/*'])).toEqual(['refs/tags/*', 'refs/heads/main']);
    await repos.setProtectedRefs('b', ['refs/heads/dev']);
    expect(await repos.setProtectedRefs('a', ['refs/heads/main'])).toEqual(['refs/heads/main']);
    expect(await repos.protectedRefs('b')).toEqual(['refs/heads/dev']);
    db.pragma('foreign_keys = OFF');
    expect(await repos.delete('a')).toBe(true);
    expect(db.prepare('SELECT repo_id, pattern FROM protected_refs').all()).toEqual([{ repo_id: 'b', pattern: 'refs/heads/dev' }]);
  });
});
