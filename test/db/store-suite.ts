// The one conformance suite every Stores implementation passes (hono style: one interface,
// adapters, one suite run against each). It talks only to the interfaces of src/db/stores.ts:
// nothing here may depend on SQLite (or any engine). An implementation's test file calls
// storeConformanceSuite with a factory that opens a fresh, empty, migrated database.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NewAuditRow, TokenRecord } from '../../src/db/records.js';
import type { Stores } from '../../src/db/stores.js';
import { isoAt, type Clock } from '../../src/db/time.js';
import { isGitgateError } from '../../src/errors.js';

export interface StoresUnderTest extends Stores {
  /** Removes what the factory created (files, schemas), after close(). */
  cleanup?: () => Promise<void>;
  /** Another connection to the same database (another process or node), when the engine has one. */
  reopen?: () => Promise<Stores>;
}

export type MakeStores = (opts: { now: Clock }) => Promise<StoresUnderTest>;

const T0 = Date.parse('2025-01-01T00:00:00.000Z');

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    return isGitgateError(err) ? err.code : `not a GitgateError: ${String(err)}`;
  }
  return undefined;
}

export function storeConformanceSuite(name: string, makeStores: MakeStores): void {
  describe(`store conformance: ${name}`, () => {
    let clock: number;
    let s: StoresUnderTest;
    const extra: Stores[] = [];
    let seq = 0;

    beforeEach(async () => {
      clock = T0;
      s = await makeStores({ now: () => clock });
    });
    afterEach(async () => {
      for (const other of extra.splice(0)) await other.close();
      await s.close();
      await s.cleanup?.();
    });

    const at = (ms = clock) => isoAt(ms);
    function token(over: Partial<TokenRecord> = {}): TokenRecord {
      seq++;
      return {
        id: `tok_${String(seq).padStart(16, '0')}`,
        kind: 'repo',
        permission: 'write',
        name: `token ${seq}`,
        repo_ids: [],
        refs: [],
        allow_force: true,
        allow_delete: true,
        created_at: at(),
        expires_at: null,
        revoked_at: null,
        last_used_at: null,
        last_used_ip: null,
        created_by: null,
        ...over,
      };
    }
    async function mint(over: Partial<TokenRecord> = {}, hash = 'hash'): Promise<TokenRecord> {
      const t = token(over);
      expect(await s.tokens.insert(t, hash, at())).toBe(true);
      return t;
    }
    async function repos(...ids: string[]): Promise<void> {
      for (const id of ids) {
        await s.repos.insert({ id });
        clock += 1000;
      }
    }

    describe('TokenStore', () => {
      it('inserts and reads back a token with its scope in order, hashes apart', async () => {
        await repos('r1', 'r2');
        const t = await mint({ repo_ids: ['r2', 'r1'], refs: ['refs/heads/a/*'], allow_force: false, permission: 'admin' }, 'h1');
        const ws = await mint({ kind: 'workspace', allow_delete: false });
        expect(await s.tokens.get(t.id)).toEqual(t);
        expect(await s.tokens.get(ws.id)).toEqual(ws);
        expect(await s.tokens.get('tok_missing')).toBeNull();
        expect(await s.tokens.exists(t.id)).toBe(true);
        expect(await s.tokens.exists('tok_missing')).toBe(false);
        expect(await s.tokens.secretHashes(t.id)).toEqual({ current: 'h1', previous: null, previousUntil: null });
        expect(await s.tokens.secretHashes('tok_missing')).toBeNull();
        expect(await s.tokens.getWithHashes(t.id)).toEqual({ record: t, hashes: { current: 'h1', previous: null, previousUntil: null } });
        expect(await s.tokens.getWithHashes('tok_missing')).toBeNull();
        expect(await s.tokens.count()).toBe(2);
      });

      it('insertFirst: of many racing first mints (on several connections) exactly one lands, none once a token exists', async () => {
        const others = s.reopen ? await Promise.all([s.reopen(), s.reopen()]) : [];
        extra.push(...others);
        const all = [s, ...others];
        const firsts = Array.from({ length: 24 }, () => token({ kind: 'workspace', permission: 'admin' }));
        // connections open before the race, so the inserts really overlap
        await Promise.all(firsts.map((_, i) => all[i % all.length]!.tokens.count()));
        const results = await Promise.all(firsts.map((t, i) => all[i % all.length]!.tokens.insertFirst(t, 'h')));
        expect(results.filter(Boolean)).toHaveLength(1);
        expect(await s.tokens.count()).toBe(1);
        expect(await s.tokens.get(firsts[results.indexOf(true)]!.id)).toEqual(firsts[results.indexOf(true)]);
        expect(await s.tokens.insertFirst(token(), 'h')).toBe(false);
        expect(await s.tokens.count()).toBe(1);
      });

      it('mints under a minter only while it and every ancestor are live', async () => {
        const root = await mint({ kind: 'workspace' });
        const mid = await mint({ created_by: root.id, expires_at: at(T0 + 60_000) });
        expect(await s.tokens.insert(token({ created_by: mid.id }), 'h', at())).toBe(true);
        // expired minter: refused at its expiry instant
        const late = token({ created_by: mid.id });
        expect(await s.tokens.insert(late, 'h', at(T0 + 60_000))).toBe(false);
        expect(await s.tokens.get(late.id)).toBeNull();
        // unknown minter
        expect(await s.tokens.insert(token({ created_by: 'tok_nobody' }), 'h', at())).toBe(false);
        // a revoked grandparent kills the chain
        await s.tokens.revokeTree(root.id, at());
        const orphan = token({ created_by: mid.id });
        expect(await s.tokens.insert(orphan, 'h', at())).toBe(false);
        expect(await s.tokens.exists(orphan.id)).toBe(false);
      });

      it('revokes a whole minting tree at once, reporting only newly revoked tokens', async () => {
        const root = await mint({ kind: 'workspace' });
        const a = await mint({ created_by: root.id });
        const b = await mint({ created_by: a.id });
        const c = await mint({ created_by: b.id });
        const sibling = await mint({ created_by: root.id });
        const stranger = await mint();
        clock += 5000;
        const first = await s.tokens.revokeTree(a.id, at());
        expect(new Set(first.affected)).toEqual(new Set([a.id, b.id, c.id]));
        expect(new Set(first.revoked)).toEqual(new Set([a.id, b.id, c.id]));
        expect(first.changed).toBe(3);
        for (const id of [a.id, b.id, c.id]) expect((await s.tokens.get(id))!.revoked_at).toBe(at());
        for (const id of [root.id, sibling.id, stranger.id]) expect((await s.tokens.get(id))!.revoked_at).toBeNull();
        const again = await s.tokens.revokeTree(root.id, at(clock + 1));
        expect(new Set(again.affected)).toEqual(new Set([root.id, a.id, b.id, c.id, sibling.id]));
        expect(new Set(again.revoked)).toEqual(new Set([root.id, sibling.id]));
        expect(again.changed).toBe(2);
        expect((await s.tokens.get(a.id))!.revoked_at).toBe(at()); // the first revocation time stays
      });

      it('no live child of a revoked minter survives many mints racing its revocation', async () => {
        const root = await mint({ kind: 'workspace' });
        const minter = await mint({ created_by: root.id, kind: 'workspace' });
        const other = s.reopen ? await s.reopen() : s;
        if (other !== s) extra.push(other);
        const children = Array.from({ length: 40 }, () => token({ created_by: minter.id }));
        const grandchildren = children.slice(0, 10).map((c) => token({ created_by: c.id }));
        const all = [...children, ...grandchildren];
        // the revocation starts among the mints: some may be decided before it, some after
        const inserts: Promise<boolean>[] = [];
        let revocation: Promise<unknown> = Promise.resolve();
        for (const [i, t] of all.entries()) {
          if (i === 20) revocation = s.tokens.revokeTree(minter.id, at());
          inserts.push((i % 2 ? other : s).tokens.insert(t, 'h', at()));
        }
        const outcomes = await Promise.all(inserts);
        await revocation;
        for (const [i, t] of all.entries()) {
          const stored = await s.tokens.get(t.id);
          if (!outcomes[i]) expect(stored).toBeNull();
          else expect(stored?.revoked_at, `${t.id} was minted under a revoked minter and is live`).not.toBeNull();
        }
        expect((await s.tokens.get(root.id))!.revoked_at).toBeNull();
      });

      it('rotates while the token (and the rotating actor) is live, with or without grace', async () => {
        const actor = await mint({ kind: 'workspace' });
        const t = await mint({ created_by: actor.id }, 'old');
        const until = at(T0 + 60_000);
        expect(await s.tokens.rotate(t.id, 'new', until, at(), actor.id)).toBe('ok');
        expect(await s.tokens.secretHashes(t.id)).toEqual({ current: 'new', previous: 'old', previousUntil: until });
        expect(await s.tokens.rotate(t.id, 'newer', null, at(), null)).toBe('ok');
        expect(await s.tokens.secretHashes(t.id)).toEqual({ current: 'newer', previous: null, previousUntil: null });
        const lone = await mint({}, 'x');
        await s.tokens.revokeTree(actor.id, at());
        expect(await s.tokens.rotate(lone.id, 'y', null, at(), actor.id)).toBe('actor_dead');
        expect(await s.tokens.rotate(t.id, 'z', null, at(), null)).toBe('target_dead');
        expect((await s.tokens.secretHashes(t.id))!.current).toBe('newer');
        const expiring = await mint({ expires_at: at(T0 + 1000) }, 'e');
        expect(await s.tokens.rotate(expiring.id, 'e2', null, at(T0 + 1000), null)).toBe('target_dead');
        expect(await s.tokens.rotate('tok_missing', 'm', null, at(), null)).toBe('target_dead');
      });

      it('records the last use', async () => {
        const t = await mint();
        await s.tokens.markUsed(t.id, at(T0 + 5), '10.0.0.1');
        expect(await s.tokens.get(t.id)).toMatchObject({ last_used_at: at(T0 + 5), last_used_ip: '10.0.0.1' });
        await s.tokens.markUsed(t.id, at(T0 + 9), null);
        expect(await s.tokens.get(t.id)).toMatchObject({ last_used_at: at(T0 + 9), last_used_ip: null });
      });

      it('lists oldest first in pages, by repository, with or without revoked tokens', async () => {
        await repos('a', 'b');
        const made: TokenRecord[] = [];
        for (let i = 0; i < 5; i++) made.push(await mint({ repo_ids: i % 2 ? ['a'] : ['b', 'a'], created_at: at(T0 + (i < 3 ? 0 : i) * 1000) }));
        await s.tokens.revokeTree(made[4]!.id, at());
        const ids = (p: { items: TokenRecord[] }) => p.items.map((t) => t.id);
        const page1 = await s.tokens.list({ pageSize: 2, pageStart: 0, includeRevoked: false });
        expect(ids(page1)).toEqual([made[0]!.id, made[1]!.id]); // ties on created_at keep insertion order
        expect(page1).toMatchObject({ total_items: 4, next_page: 2 });
        const page2 = await s.tokens.list({ pageSize: 2, pageStart: 2, includeRevoked: false });
        expect(ids(page2)).toEqual([made[2]!.id, made[3]!.id]);
        expect(page2.next_page).toBeNull();
        const all = await s.tokens.list({ pageSize: 100, pageStart: 0, includeRevoked: true });
        expect(ids(all)).toEqual(made.map((t) => t.id));
        expect(all.items[0]).toEqual(made[0]);
        const inB = await s.tokens.list({ pageSize: 100, pageStart: 0, includeRevoked: true, repoId: 'b' });
        expect(ids(inB)).toEqual([made[0]!.id, made[2]!.id, made[4]!.id]);
      });

      it('narrows a listing to what the viewer may see, then to what `keep` keeps', async () => {
        await repos('a', 'b', 'c');
        const root = await mint({ kind: 'workspace', permission: 'admin' });
        const repoAdmin = await mint({ permission: 'admin', repo_ids: ['a', 'b'] });
        const inside = await mint({ repo_ids: ['a'] });
        const straddling = await mint({ repo_ids: ['a', 'c'] });
        const elsewhere = await mint({ repo_ids: ['c'] });
        const reader = await mint({ permission: 'read', repo_ids: ['a'] });
        const list = async (viewer: TokenRecord, keep?: (t: TokenRecord) => boolean) =>
          (await s.tokens.list({ pageSize: 100, pageStart: 0, includeRevoked: false, visibleTo: viewer, keep })).items.map((t) => t.id);
        expect(await list(root)).toEqual([root, repoAdmin, inside, straddling, elsewhere, reader].map((t) => t.id));
        expect(await list(repoAdmin)).toEqual([repoAdmin, inside, reader].map((t) => t.id));
        expect(await list(reader)).toEqual([reader.id]);
        expect(await list(inside)).toEqual([inside.id]);
        const kept = await s.tokens.list({ pageSize: 1, pageStart: 1, includeRevoked: false, visibleTo: root, keep: (t) => t.repo_ids.includes('c') });
        expect(kept.items.map((t) => t.id)).toEqual([elsewhere.id]);
        expect(kept).toMatchObject({ total_items: 2, next_page: null });
      });
    });

    describe('RepoStore', () => {
      it('inserts with defaults, gets by id then by name', async () => {
        const row = await s.repos.insert({ id: 'id-1', name: 'project', metadata: { team: 'x' }, default_branch: 'trunk' });
        expect(row).toEqual({ id: 'id-1', name: 'project', metadata: { team: 'x' }, default_branch: 'trunk', created_at: at(), updated_at: null });
        expect(await s.repos.get('id-1')).toEqual(row);
        expect(await s.repos.get('project')).toEqual(row);
        expect(await s.repos.get('missing')).toBeNull();
        expect(await s.repos.insert({ id: 'plain' })).toMatchObject({ name: null, metadata: null, default_branch: 'main' });
      });

      it('keeps names unique, and names and ids apart', async () => {
        await s.repos.insert({ id: 'a', name: 'same' });
        expect(await codeOf(s.repos.insert({ id: 'b', name: 'same' }))).toBe('NAME_TAKEN');
        expect(await codeOf(s.repos.insert({ id: 'c', name: 'a' }))).toBe('NAME_TAKEN'); // a name shadowing an id
        expect(await codeOf(s.repos.insert({ id: 'same' }))).toBe('VALIDATION'); // an id shadowing a name
        expect(await codeOf(s.repos.insert({ id: 'a' }))).toBe('VALIDATION'); // the id exists
        expect(await codeOf(s.repos.insert({ id: 'd', name: 'bad name' }))).toBe('VALIDATION');
        expect(await codeOf(s.repos.insert({ id: 'e', name: 'x.git' }))).toBe('VALIDATION');
        expect(await codeOf(s.repos.insert({ id: 'f', metadata: { n: 1 } as unknown as Record<string, string> }))).toBe('VALIDATION');
        await s.repos.insert({ id: 'g' });
        await s.repos.insert({ id: 'h' }); // many unnamed
        expect((await s.repos.list()).total_items).toBe(3);
      });

      it('gives a unique name to exactly one of many concurrent creations', async () => {
        const other = s.reopen ? await s.reopen() : s;
        if (other !== s) extra.push(other);
        const results = await Promise.all(Array.from({ length: 10 }, (_, i) => codeOf((i % 2 ? other : s).repos.insert({ id: `r${i}`, name: 'contended' }))));
        expect(results.filter((r) => r === undefined)).toHaveLength(1);
        expect(results.filter((r) => r === 'NAME_TAKEN')).toHaveLength(9);
      });

      it('lists in pages, ordered and filtered', async () => {
        for (let i = 0; i < 5; i++) {
          await s.repos.insert({ id: `r${i}`, metadata: { parity: i % 2 ? 'odd' : 'even', 'dotted.key': `v${i}` } });
          clock += 1000;
        }
        const ids = async (q: Parameters<Stores['repos']['list']>[0]) => (await s.repos.list(q)).items.map((r) => r.id);
        expect(await s.repos.list({ page_size: 2 })).toMatchObject({ total_items: 5, next_page: 2 });
        expect(await ids({ page_size: 2, page_start: 2 })).toEqual(['r2', 'r3']);
        expect((await s.repos.list({ page_size: 2, page_start: 4 })).next_page).toBeNull();
        expect(await ids({ order_descending: true })).toEqual(['r4', 'r3', 'r2', 'r1', 'r0']);
        expect(await ids({ created_after: at(T0 + 1000), created_before: at(T0 + 4000) })).toEqual(['r2', 'r3']);
        expect(await ids({ filter_metadata: { parity: 'odd' } })).toEqual(['r1', 'r3']);
        expect(await ids({ filter_metadata: { parity: 'even', 'dotted.key': 'v2' } })).toEqual(['r2']);
        expect(await ids({ ids: ['r3', 'r0', 'nope'] })).toEqual(['r0', 'r3']);
        expect(await ids({ ids: [] })).toEqual([]);
        await s.repos.touch('r0');
        expect(await ids({ order_by: 'updated_at' })).toEqual(['r1', 'r2', 'r3', 'r4', 'r0']);
        expect(await codeOf(s.repos.list({ page_size: 0 }))).toBe('VALIDATION');
        expect(await codeOf(s.repos.list({ page_start: -1 }))).toBe('VALIDATION');
        expect(await codeOf(s.repos.list({ created_after: 'not a date' }))).toBe('VALIDATION');
      });

      it('updates, touches and deletes, taking token scopes and protected refs along', async () => {
        await s.repos.insert({ id: 'a', metadata: { k: 'v' } });
        await s.repos.insert({ id: 'b' });
        clock += 5000;
        await s.repos.touch('a');
        expect((await s.repos.get('a'))!.updated_at).toBe(at());
        clock += 1000;
        expect(await s.repos.update('a', { default_branch: 'dev' })).toMatchObject({ metadata: { k: 'v' }, default_branch: 'dev', updated_at: at() });
        expect(await s.repos.update('a', { metadata: null })).toMatchObject({ metadata: null, default_branch: 'dev' });
        expect(await s.repos.get('a')).toMatchObject({ metadata: null, default_branch: 'dev' });
        expect(await s.repos.update('missing', { default_branch: 'x' })).toBeNull();
        const t = await mint({ repo_ids: ['a', 'b'] });
        await s.repos.setProtectedRefs('a', ['refs/heads/main']);
        expect(await s.repos.delete('a')).toBe(true);
        expect(await s.repos.delete('a')).toBe(false);
        expect(await s.repos.get('a')).toBeNull();
        expect((await s.tokens.get(t.id))!.repo_ids).toEqual(['b']);
        expect(await s.repos.protectedRefs('a')).toEqual([]);
        await s.repos.insert({ id: 'a' }); // the id is free again, with nothing inherited
        expect(await s.repos.protectedRefs('a')).toEqual([]);
      });

      it('replaces protected ref patterns, keeping their order and dropping duplicates', async () => {
        await s.repos.insert({ id: 'a' });
        await s.repos.insert({ id: 'b' });
        expect(await s.repos.protectedRefs('a')).toEqual([]);
        expect(await s.repos.setProtectedRefs('a', ['refs/tags/*', 'refs/heads/main', 'refs/tags/*'])).toEqual(['refs/tags/*', 'refs/heads/main']);
        await s.repos.setProtectedRefs('b', ['refs/heads/b']);
        expect(await s.repos.setProtectedRefs('a', ['refs/heads/release/*'])).toEqual(['refs/heads/release/*']);
        expect(await s.repos.protectedRefs('a')).toEqual(['refs/heads/release/*']);
        expect(await s.repos.protectedRefs('b')).toEqual(['refs/heads/b']);
        expect(await s.repos.setProtectedRefs('a', [])).toEqual([]);
      });
    });

    describe('AuditStore', () => {
      const event = (over: Partial<NewAuditRow> = {}): NewAuditRow => ({
        at: at(),
        action: 'ref.update',
        actor_token_id: 'tok_actor',
        client_ip: '10.0.0.1',
        repo_ids: ['a'],
        ref: 'refs/heads/main',
        old_oid: null,
        new_oid: 'a'.repeat(40),
        target_token_id: null,
        detail: { via: 'push', nested: { n: 1, list: ['x'] } },
        ...over,
      });

      it('appends in order and reads after a cursor, oldest first', async () => {
        expect(await s.audit.latestId()).toBe(0);
        expect(await s.audit.after(0, 10)).toEqual([]);
        await s.audit.append([event({ ref: 'refs/heads/one' }), event({ ref: 'refs/heads/two', repo_ids: ['a', 'b'], detail: null })]);
        await s.audit.append([event({ action: 'token.create', repo_ids: [], ref: null, target_token_id: 'tok_t' })]);
        const all = await s.audit.after(0, 10);
        expect(all.map((e) => e.ref)).toEqual(['refs/heads/one', 'refs/heads/two', null]);
        expect(all[0]!.id).toBeLessThan(all[1]!.id);
        expect(all[1]!.id).toBeLessThan(all[2]!.id);
        expect(all[0]).toEqual({ ...event({ ref: 'refs/heads/one' }), id: all[0]!.id, repo_id: 'a' });
        expect(all[1]).toMatchObject({ repo_id: null, repo_ids: ['a', 'b'], detail: null });
        expect(all[2]).toMatchObject({ repo_id: null, repo_ids: [], target_token_id: 'tok_t' });
        expect(await s.audit.latestId()).toBe(all[2]!.id);
        expect((await s.audit.after(all[0]!.id, 1)).map((e) => e.id)).toEqual([all[1]!.id]);
        expect(await s.audit.after(all[2]!.id, 10)).toEqual([]);
      });

      it('gives concurrent appends distinct ids, each batch contiguous in the stream', async () => {
        const other = s.reopen ? await s.reopen() : s;
        if (other !== s) extra.push(other);
        await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? other : s).audit.append([event({ ref: `refs/heads/b${i}-0` }), event({ ref: `refs/heads/b${i}-1` })])));
        const all = await s.audit.after(0, 1000);
        expect(all).toHaveLength(40);
        expect(new Set(all.map((e) => e.id)).size).toBe(40);
        for (let i = 0; i < 40; i += 2) expect(all[i + 1]!.ref).toBe(all[i]!.ref!.replace(/-0$/, '-1'));
      });

      it('lists newest first in pages, by repository, action and repository set', async () => {
        await s.audit.append([
          event({ repo_ids: ['a'] }),
          event({ repo_ids: ['a', 'b'], action: 'push' }),
          event({ repo_ids: ['b'] }),
          event({ repo_ids: [], action: 'token.create' }),
          event({ repo_ids: ['c', 'a'] }),
        ]);
        const all = await s.audit.after(0, 10);
        const ids = (p: { items: { id: number }[] }) => p.items.map((e) => e.id);
        const newest = [...all].reverse().map((e) => e.id);
        const page = await s.audit.list({ pageSize: 2, pageStart: 0 });
        expect(ids(page)).toEqual(newest.slice(0, 2));
        expect(page).toMatchObject({ total_items: 5, next_page: 2 });
        expect(await s.audit.list({ pageSize: 2, pageStart: 4 })).toMatchObject({ next_page: null, total_items: 5 });
        expect(ids(await s.audit.list({ pageSize: 10, pageStart: 0, repoId: 'a' }))).toEqual([all[4]!.id, all[1]!.id, all[0]!.id]);
        expect(ids(await s.audit.list({ pageSize: 10, pageStart: 0, action: 'push' }))).toEqual([all[1]!.id]);
        expect(ids(await s.audit.list({ pageSize: 10, pageStart: 0, withinRepos: ['a', 'b'] }))).toEqual([all[2]!.id, all[1]!.id, all[0]!.id]);
        expect((await s.audit.list({ pageSize: 10, pageStart: 0, withinRepos: ['b'], repoId: 'b' })).total_items).toBe(1);
      });
    });

    describe('WebhookStore', () => {
      const hookInput = (over: Partial<Parameters<Stores['webhooks']['create']>[0]> = {}) => ({
        url: 'https://example.test/hook',
        repoId: null,
        events: ['push', 'token.*'],
        secret: 's3cret',
        createdBy: 'tok_creator',
        afterEvent: 0,
        nowMs: clock,
        ...over,
      });
      const item = (webhookId: string, eventId: number) => ({ webhookId, eventId, eventType: 'push', body: `{"id":"${eventId}"}` });

      it('creates, reads, lists and deletes webhooks', async () => {
        const a = await s.webhooks.create(hookInput({ repoId: 'r1', afterEvent: 7 }));
        clock += 1000;
        const b = await s.webhooks.create(hookInput({ url: 'https://example.test/other', nowMs: clock }));
        expect(a).toMatchObject({ url: 'https://example.test/hook', repo_id: 'r1', events: ['push', 'token.*'], secret: 's3cret', created_by: 'tok_creator', after_event: 7, created_at: at(T0) });
        expect(a.id).not.toBe(b.id);
        expect(await s.webhooks.get(a.id)).toEqual(a);
        expect(await s.webhooks.get('wh_missing')).toBeNull();
        expect((await s.webhooks.all()).map((h) => h.id)).toEqual([a.id, b.id]);
        expect(await s.webhooks.delete(a.id)).toBe(true);
        expect(await s.webhooks.delete(a.id)).toBe(false);
        expect((await s.webhooks.all()).map((h) => h.id)).toEqual([b.id]);
      });

      it('queues each (webhook, event) once and moves the fan-out cursor forward only', async () => {
        const h = await s.webhooks.create(hookInput());
        expect(await s.webhooks.dispatchCursor()).toBe(0);
        await s.webhooks.enqueue([item(h.id, 1), item(h.id, 2)], 2, clock);
        await s.webhooks.enqueue([item(h.id, 2), item(h.id, 3)], 3, clock); // a batch repeated after a crash
        expect(await s.webhooks.dispatchCursor()).toBe(3);
        await s.webhooks.enqueue([], 1, clock);
        expect(await s.webhooks.dispatchCursor()).toBe(3);
        const claimed = await s.webhooks.claimDue(clock, 10, clock + 30_000);
        expect(claimed.map((d) => d.event_id)).toEqual([1, 2, 3]);
      });

      it('claims due deliveries oldest first under a lease, then records attempts', async () => {
        const h = await s.webhooks.create(hookInput());
        await s.webhooks.enqueue([item(h.id, 1)], 1, clock);
        clock += 10;
        await s.webhooks.enqueue([item(h.id, 2), item(h.id, 3)], 3, clock);
        expect(await s.webhooks.nextDue()).toBe(T0);
        expect(await s.webhooks.claimDue(T0 - 1, 10, T0 + 100)).toEqual([]); // none due yet
        const [d1, ...rest] = await s.webhooks.claimDue(clock, 2, clock + 1000);
        expect(rest.map((d) => d.event_id)).toEqual([2]);
        expect(d1).toMatchObject({ webhook_id: h.id, event_id: 1, event_type: 'push', body: '{"id":"1"}', state: 'pending', attempts: 0, first_at: T0, next_attempt_at: clock + 1000 });
        expect((await s.webhooks.claimDue(clock, 10, clock + 1000)).map((d) => d.event_id)).toEqual([3]); // the others are leased
        expect(await s.webhooks.claimDue(clock + 999, 10, clock + 5000)).toEqual([]);
        // a failed attempt: pending again later
        await s.webhooks.finish(d1!, { statusCode: 500, durationMs: 12, error: 'HTTP 500', state: 'pending', next: clock + 2000, nowMs: clock });
        // the lease of event 2 ran out (its process died): due again, once
        const again = await s.webhooks.claimDue(clock + 1000, 10, clock + 9000);
        expect(again.map((d) => d.event_id)).toEqual([2, 3]);
        const retry = await s.webhooks.claimDue(clock + 2000, 10, clock + 9000);
        expect(retry.map((d) => [d.event_id, d.attempts])).toEqual([[1, 1]]);
        await s.webhooks.finish(retry[0]!, { statusCode: 204, durationMs: 5, error: null, state: 'delivered', next: clock + 2000, nowMs: clock + 2000 });
        await s.webhooks.release(again[0]!.id, clock + 3000); // shutdown cut an attempt short: nothing recorded
        await s.webhooks.abandon(again[1]!.id);
        expect(await s.webhooks.nextDue()).toBe(clock + 3000);
        const attempts = await s.webhooks.attempts(h.id, 10, 0);
        expect(attempts.total_items).toBe(2);
        expect(attempts.items.map((a) => [a.event_id, a.attempt, a.status_code, a.success, a.state, a.error])).toEqual([
          ['1', 2, 204, true, 'delivered', null],
          ['1', 1, 500, false, 'delivered', 'HTTP 500'],
        ]);
        expect(attempts.items[1]).toMatchObject({ delivery_id: d1!.id, event: 'push', at: at(clock), duration_ms: 12 });
        expect(await s.webhooks.attempts(h.id, 1, 1)).toMatchObject({ total_items: 2, next_page: null });
        expect((await s.webhooks.attempts(h.id, 1, 0)).next_page).toBe(1);
      });

      it('never gives one delivery to two concurrent claimers', async () => {
        const h = await s.webhooks.create(hookInput());
        await s.webhooks.enqueue(Array.from({ length: 60 }, (_, i) => item(h.id, i + 1)), 60, clock);
        const other = s.reopen ? await s.reopen() : s;
        if (other !== s) extra.push(other);
        const claims = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? other : s).webhooks.claimDue(clock, 7, clock + 60_000)));
        const ids = claims.flat().map((d) => d.id);
        expect(new Set(ids).size).toBe(ids.length);
        expect(ids.length).toBe(60);
      });

      it("deletes a repository's webhooks with their queues, and no other webhook", async () => {
        const mine = await s.webhooks.create(hookInput({ repoId: 'doomed' }));
        const other = await s.webhooks.create(hookInput({ repoId: 'kept' }));
        const global = await s.webhooks.create(hookInput());
        await s.webhooks.enqueue([item(mine.id, 1), item(other.id, 1), item(global.id, 1)], 1, clock);
        expect(await s.webhooks.deleteForRepo('doomed')).toBe(1);
        expect(await s.webhooks.deleteForRepo('doomed')).toBe(0);
        expect((await s.webhooks.all()).map((h) => h.id).sort()).toEqual([other.id, global.id].sort());
        expect((await s.webhooks.claimDue(clock, 10, clock + 100)).map((d) => d.webhook_id).sort()).toEqual([other.id, global.id].sort());
      });

      it('drops a webhook’s queue with it, and prunes old finished deliveries', async () => {
        const h = await s.webhooks.create(hookInput());
        const keep = await s.webhooks.create(hookInput());
        await s.webhooks.enqueue([item(h.id, 1), item(keep.id, 1), item(keep.id, 2)], 2, clock);
        const claimed = await s.webhooks.claimDue(clock, 10, clock + 100);
        const [mine] = claimed.filter((d) => d.webhook_id === h.id);
        await s.webhooks.delete(h.id);
        await s.webhooks.finish(mine!, { statusCode: 200, durationMs: 1, error: null, state: 'delivered', next: clock, nowMs: clock });
        expect((await s.webhooks.attempts(h.id, 10, 0)).total_items).toBe(0);
        const [done, pending] = claimed.filter((d) => d.webhook_id === keep.id);
        await s.webhooks.finish(done!, { statusCode: 200, durationMs: 1, error: null, state: 'delivered', next: clock, nowMs: clock });
        await s.webhooks.prune(clock + 1);
        expect((await s.webhooks.attempts(keep.id, 10, 0)).total_items).toBe(0);
        // the pending one stays, and is due again when its lease ends
        expect((await s.webhooks.claimDue(clock + 100, 10, clock + 200)).map((d) => d.id)).toEqual([pending!.id]);
      });
    });

    describe('transactions', () => {
      it('commits what the function did when it resolves', async () => {
        const result = await s.withTransaction(async (tx) => {
          await tx.repos.insert({ id: 'a' });
          await tx.repos.setProtectedRefs('a', ['refs/heads/main']);
          return 'done';
        });
        expect(result).toBe('done');
        expect(await s.repos.protectedRefs('a')).toEqual(['refs/heads/main']);
      });

      it('rolls everything back when the function throws, and rethrows', async () => {
        const boom = new Error('boom');
        const t = token({ kind: 'workspace' });
        await expect(
          s.withTransaction(async (tx) => {
            await tx.repos.insert({ id: 'a' });
            expect(await tx.repos.get('a')).not.toBeNull(); // its own writes are visible inside
            await tx.tokens.insert(t, 'h', at());
            await tx.audit.append([{ at: at(), action: 'repo.create', actor_token_id: null, client_ip: null, repo_ids: ['a'], ref: null, old_oid: null, new_oid: null, target_token_id: null, detail: null }]);
            throw boom;
          }),
        ).rejects.toBe(boom);
        expect(await s.repos.get('a')).toBeNull();
        expect(await s.tokens.get(t.id)).toBeNull();
        expect(await s.audit.latestId()).toBe(0);
      });

      it('a nested transaction rolls back alone', async () => {
        await s.withTransaction(async (tx) => {
          await tx.repos.insert({ id: 'outer' });
          await expect(
            tx.withTransaction(async (inner) => {
              await inner.repos.insert({ id: 'inner' });
              throw new Error('inner');
            }),
          ).rejects.toThrow('inner');
          await tx.repos.insert({ id: 'after' });
        });
        expect((await s.repos.list()).items.map((r) => r.id).sort()).toEqual(['after', 'outer']);
      });

      it('others never see uncommitted writes', async () => {
        let finished = false;
        let outside: Promise<{ seen: boolean; finishedWhenRead: boolean }> | undefined;
        await s.withTransaction(async (tx) => {
          await tx.repos.insert({ id: 'a' });
          outside = s.repos.get('a').then((r) => ({ seen: r !== null, finishedWhenRead: finished }));
          await new Promise((resolve) => setTimeout(resolve, 20));
          finished = true;
        });
        // a read answered while the transaction was still open must not see its write (a read
        // answered after the commit was issued may see either state: MVCC engines answer from
        // the snapshot they started in, SQLite's connection makes the reader wait)
        const read = await outside!;
        expect(read.seen && !read.finishedWhenRead).toBe(false);
        expect(await s.repos.get('a')).not.toBeNull();
      });
    });

    it('answers a ping', async () => {
      await expect(s.ping()).resolves.toBeUndefined();
    });
  });
}
