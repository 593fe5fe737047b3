// The one conformance suite every RefDatabase implementation passes (hono style: one interface,
// implementations, one suite run against each). It talks only to src/repo/ref-database.ts; an
// implementation's test file calls refDatabaseSuite with a factory giving a fresh repository
// whose HEAD points at refs/heads/main and which has no refs. Implementations over files also
// give `crash`: the suite then kills a batch at every step and checks what a restart sees.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ZERO_OID } from '../../src/oid.js';
import type { RefDatabase, RefUpdate, RefUpdateResult } from '../../src/repo/ref-database.js';
import { isGitgateError } from '../../src/errors.js';

export interface RefsUnderTest {
  refs: RefDatabase;
  /** Another instance over the same refs (another process, or a restart). */
  reopen(): RefDatabase;
  /** Ids to point refs at: `n` distinct ones (real commits where the implementation keeps objects). */
  oids(n: number): Promise<string[]>;
  /** After every test: what the implementation must leave (no lock files, a repository C Git accepts). */
  check(): Promise<void>;
  cleanup(): void;
  /** Implementations with files: an instance that dies at its k-th change, and what a restart runs before serving. */
  crash?: {
    dying(k: number): { refs: RefDatabase; readonly died: boolean };
    recover(): Promise<void>;
  };
}

/** `crash`: the implementation keeps files and gives `RefsUnderTest.crash` (one without files has no step to crash at). */
export function refDatabaseSuite(name: string, open: () => Promise<RefsUnderTest>, opts: { crash: boolean }): void {
  describe(`RefDatabase conformance: ${name}`, () => {
    const MAIN = 'refs/heads/main';
    let t: RefsUnderTest;
    let refs: RefDatabase;
    let c1: string, c2: string, c3: string;
    const create = (n: string, oid: string) => refs.update([{ name: n, oldOid: null, newOid: oid }]);
    const ok = (n: string): RefUpdateResult => ({ name: n, ok: true });
    const listed = async (prefix?: string) => (await refs.list(prefix)).map((r) => `${r.oid} ${r.name}`).join('\n');

    beforeEach(async () => {
      t = await open();
      refs = t.refs;
      [c1, c2, c3] = (await t.oids(3)) as [string, string, string];
    });

    afterEach(async () => {
      try {
        await t.check();
      } finally {
        t.cleanup();
      }
    });

    describe('compare-and-swap', () => {
      it('creates, updates and deletes with compare-and-swap on the old value', async () => {
        expect(await create(MAIN, c1)).toEqual([ok(MAIN)]);
        expect(await refs.resolve(MAIN)).toBe(c1);
        expect(await refs.resolve('HEAD')).toBe(c1);
        expect(await refs.update([{ name: MAIN, oldOid: c1, newOid: c2 }])).toEqual([ok(MAIN)]);
        expect(await refs.update([{ name: MAIN, oldOid: c2, newOid: ZERO_OID }])).toEqual([ok(MAIN)]);
        expect(await refs.resolve(MAIN)).toBeNull();
        expect(await refs.list()).toEqual([]);
      });

      it('updates with compare-and-swap on the old value', async () => {
        await create(MAIN, c1);
        expect(await refs.update([{ name: MAIN, oldOid: c1, newOid: c2 }])).toEqual([ok(MAIN)]);
        expect(await refs.resolve(MAIN)).toBe(c2);
        const [stale] = await refs.update([{ name: MAIN, oldOid: c1, newOid: c3 }]);
        expect(stale).toEqual({ name: MAIN, ok: false, code: 'stale', reason: `cannot lock ref '${MAIN}': is at ${c2} but expected ${c1}` });
        expect(await refs.resolve(MAIN)).toBe(c2);
      });

      it('refuses to create a ref that exists (old value null or the zero id)', async () => {
        await create(MAIN, c1);
        for (const oldOid of [null, ZERO_OID]) {
          const [r] = await refs.update([{ name: MAIN, oldOid, newOid: c2 }]);
          expect(r).toEqual({ name: MAIN, ok: false, code: 'exists', reason: `cannot lock ref '${MAIN}': reference already exists` });
        }
        expect(await refs.resolve(MAIN)).toBe(c1);
      });

      it('refuses to update or delete a ref that is missing', async () => {
        for (const newOid of [c2, null]) {
          const [r] = await refs.update([{ name: MAIN, oldOid: c1, newOid }]);
          expect(r).toMatchObject({ ok: false, code: 'missing', reason: `cannot lock ref '${MAIN}': reference is missing but expected ${c1}` });
        }
        expect(await refs.resolve(MAIN)).toBeNull();
      });

      it('throws VALIDATION when an old or new value is undefined (a caller bug, not a ref failure)', async () => {
        const bad = { name: MAIN, newOid: c1 } as unknown as { name: string; oldOid: null; newOid: string };
        const err = await refs.update([bad]).catch((e: unknown) => e);
        expect(isGitgateError(err, 'VALIDATION')).toBe(true);
      });

      it('fails the later of two updates to the same ref in one batch', async () => {
        const results = await refs.update([
          { name: MAIN, oldOid: null, newOid: c1 },
          { name: MAIN, oldOid: null, newOid: c2 },
        ]);
        expect(results[0]).toEqual(ok(MAIN));
        expect(results[1]).toMatchObject({ ok: false, code: 'invalid', reason: `multiple updates for ref '${MAIN}' not allowed` });
        expect(await refs.resolve(MAIN)).toBe(c1);
      });

      it('refuses names outside refs/ and malformed ids per ref', async () => {
        const results = await refs.update([
          { name: 'HEAD', oldOid: null, newOid: c1 },
          { name: 'refs/heads/a..b', oldOid: null, newOid: c1 },
          { name: 'refs/heads/bad-id', oldOid: null, newOid: 'xyz' },
          { name: 'refs/heads/good', oldOid: null, newOid: c1 },
        ]);
        expect(results.map((r) => (r.ok ? 'ok' : r.code))).toEqual(['invalid', 'invalid', 'invalid', 'ok']);
        expect(await refs.list()).toEqual([{ name: 'refs/heads/good', oid: c1 }]);
      });

      it('refuses refs/heads/a/b while refs/heads/a exists, and the reverse', async () => {
        await create('refs/heads/a', c1);
        const [down] = await create('refs/heads/a/b', c2);
        expect(down).toEqual({
          name: 'refs/heads/a/b',
          ok: false,
          code: 'conflict',
          reason: "cannot lock ref 'refs/heads/a/b': 'refs/heads/a' exists; cannot create 'refs/heads/a/b'",
        });
        await create('refs/heads/x/y', c1);
        const [up] = await create('refs/heads/x', c2);
        expect(up).toMatchObject({ ok: false, code: 'conflict', reason: "cannot lock ref 'refs/heads/x': 'refs/heads/x/y' exists; cannot create 'refs/heads/x'" });
        expect(await listed()).toBe(`${c1} refs/heads/a\n${c1} refs/heads/x/y`);
      });

      it('refuses a new ref differing only in case from an existing one', async () => {
        await create('refs/heads/Topic', c1);
        const [r] = await create('refs/heads/topic', c2);
        expect(r).toMatchObject({ ok: false, code: 'conflict' });
        expect(await refs.list('refs/heads/')).toEqual([{ name: 'refs/heads/Topic', oid: c1 }]);
      });
    });

    describe('atomic batches', () => {
      beforeEach(async () => {
        await create(MAIN, c1);
      });

      const mixedBatch = (): RefUpdate[] => [
        { name: 'refs/heads/new', oldOid: null, newOid: c2 },
        { name: MAIN, oldOid: c2, newOid: c3 }, // stale: main is at c1
        { name: 'refs/tags/none', oldOid: c1, newOid: null }, // missing
        { name: 'refs/heads/also-new', oldOid: null, newOid: c3 },
      ];

      it('fails every ref and changes nothing when one ref fails', async () => {
        const results = await refs.update(mixedBatch(), { atomic: true });
        expect(results).toEqual([
          { name: 'refs/heads/new', ok: false, code: 'atomic', reason: 'atomic transaction failed' },
          { name: MAIN, ok: false, code: 'stale', reason: `cannot lock ref '${MAIN}': is at ${c1} but expected ${c2}` },
          { name: 'refs/tags/none', ok: false, code: 'missing', reason: `cannot lock ref 'refs/tags/none': reference is missing but expected ${c1}` },
          { name: 'refs/heads/also-new', ok: false, code: 'atomic', reason: 'atomic transaction failed' },
        ]);
        expect(await listed()).toBe(`${c1} ${MAIN}`);
      });

      it('lets the same batch succeed ref by ref when not atomic', async () => {
        const results = await refs.update(mixedBatch());
        expect(results.map((r) => r.ok)).toEqual([true, false, false, true]);
        expect(await listed()).toBe(`${c3} refs/heads/also-new\n${c1} ${MAIN}\n${c2} refs/heads/new`);
      });

      it('applies every ref of an atomic batch when all succeed (creations, an update, a deletion)', async () => {
        await create('refs/tags/old', c3);
        const results = await refs.update(
          [
            { name: MAIN, oldOid: c1, newOid: c2 },
            { name: 'refs/heads/b', oldOid: null, newOid: c3 },
            { name: 'refs/tags/t', oldOid: ZERO_OID, newOid: c1 },
            { name: 'refs/tags/old', oldOid: c3, newOid: null },
          ],
          { atomic: true },
        );
        expect(results.every((r) => r.ok)).toBe(true);
        expect(await listed()).toBe(`${c3} refs/heads/b\n${c2} ${MAIN}\n${c1} refs/tags/t`);
        expect(await listed()).toBe((await t.reopen().list()).map((r) => `${r.oid} ${r.name}`).join('\n'));
      });

      it('fails a batch with an invalid entry before changing anything', async () => {
        const results = await refs.update(
          [
            { name: 'refs/heads/fine', oldOid: null, newOid: c2 },
            { name: 'refs/heads/bad..name', oldOid: null, newOid: c2 },
          ],
          { atomic: true },
        );
        expect(results.map((r) => !r.ok && r.reason)).toEqual(['atomic transaction failed', 'funny refname']);
        expect(await refs.resolve('refs/heads/fine')).toBeNull();
      });
    });

    describe('concurrent compare-and-swap', () => {
      it('lets exactly one of 20 racing updates of one ref from one old value win, over two instances', async () => {
        await create(MAIN, c1);
        const targets = await t.oids(23).then((o) => o.slice(3));
        const instances = [refs, t.reopen()];
        const results = (await Promise.all(targets.map((to, i) => instances[i % 2]!.update([{ name: MAIN, oldOid: c1, newOid: to }])))).flat();
        const winners = results.flatMap((r, i) => (r.ok ? [targets[i]] : []));
        expect(winners).toHaveLength(1);
        expect(await refs.resolve(MAIN)).toBe(winners[0]);
        for (const r of results) if (!r.ok) expect(r.code).toBe('stale');
      });

      it('lets exactly one of 20 racing creations of one ref win', async () => {
        const results = await Promise.all(Array.from({ length: 20 }, (_, i) => create('refs/heads/race', [c1, c2, c3][i % 3]!)));
        expect(results.flat().filter((r) => r.ok)).toHaveLength(1);
        expect(results.flat().filter((r) => !r.ok && r.code === 'exists')).toHaveLength(19);
      });

      it('never interleaves racing atomic batches: each lands whole or not at all', async () => {
        await refs.update([
          { name: 'refs/heads/p', oldOid: null, newOid: c1 },
          { name: 'refs/heads/q', oldOid: null, newOid: c1 },
        ]);
        const instances = [refs, t.reopen()];
        const values = [c2, c3];
        const results = await Promise.all(
          values.map((v, i) =>
            instances[i]!.update(
              [
                { name: 'refs/heads/p', oldOid: c1, newOid: v },
                { name: 'refs/heads/q', oldOid: c1, newOid: v },
              ],
              { atomic: true },
            ),
          ),
        );
        const won = results.map((r) => r.every((x) => x.ok));
        expect(won.filter(Boolean)).toHaveLength(1);
        for (const r of results) expect(r.every((x) => x.ok) || r.every((x) => !x.ok)).toBe(true);
        const v = values[won.indexOf(true)]!;
        expect([await refs.resolve('refs/heads/p'), await refs.resolve('refs/heads/q')]).toEqual([v, v]);
      });
    });

    describe('symbolic refs', () => {
      it('reads and sets a symbolic HEAD; resolve follows it once its target exists', async () => {
        expect(await refs.readSymbolic('HEAD')).toBe(MAIN);
        await refs.setSymbolic('HEAD', 'refs/heads/dev');
        expect(await refs.readSymbolic('HEAD')).toBe('refs/heads/dev');
        expect(await refs.resolve('HEAD')).toBeNull();
        await create('refs/heads/dev', c3);
        expect(await refs.resolve('HEAD')).toBe(c3);
        expect(await refs.readSymbolic('refs/heads/dev')).toBeNull();
        expect(await t.reopen().readSymbolic('HEAD')).toBe('refs/heads/dev');
      });

      it('refuses bad targets and names', async () => {
        for (const target of ['heads/x', 'refs/heads/a..b', 'HEAD', 'refs/heads/']) {
          const err = await refs.setSymbolic('HEAD', target).catch((e: unknown) => e);
          expect(isGitgateError(err, 'BAD_REF_NAME'), target).toBe(true);
        }
        for (const n of ['../config', 'config', 'refs/heads/../../config', 'ORIG_HEAD']) {
          const err = await refs.resolve(n).catch((e: unknown) => e);
          expect(isGitgateError(err, 'BAD_REF_NAME'), n).toBe(true);
        }
        expect(await refs.readSymbolic('HEAD')).toBe(MAIN);
      });

      it('refuses to update a symbolic ref through update()', async () => {
        await refs.setSymbolic('refs/heads/alias', MAIN);
        const [r] = await refs.update([{ name: 'refs/heads/alias', oldOid: null, newOid: c1 }]);
        expect(r).toMatchObject({ ok: false, code: 'invalid' });
        expect(await refs.readSymbolic('refs/heads/alias')).toBe(MAIN);
      });

      it('lists a symbolic ref below refs/ with its target value, and skips dangling ones', async () => {
        await create(MAIN, c2);
        await refs.setSymbolic('refs/remotes/origin/HEAD', MAIN);
        await refs.setSymbolic('refs/remotes/origin/dangling', 'refs/heads/nowhere');
        expect(await refs.list('refs/remotes/')).toEqual([{ name: 'refs/remotes/origin/HEAD', oid: c2 }]);
      });
    });

    describe('listing', () => {
      it('lists by prefix, sorted bytewise, with and without peeled values', async () => {
        const names = ['refs/tags/t1', 'refs/heads/z', 'refs/heads/x-1', 'refs/heads/x/1', 'refs/heads/x.1', 'refs/heads/\u{1F600}', 'refs/heads/\uFF01', 'refs/heads/ä'];
        for (const n of names) expect(await create(n, c1)).toEqual([ok(n)]);
        const sorted = ['refs/heads/x-1', 'refs/heads/x.1', 'refs/heads/x/1', 'refs/heads/z', 'refs/heads/ä', 'refs/heads/\uFF01', 'refs/heads/\u{1F600}', 'refs/tags/t1'];
        expect((await refs.list()).map((r) => r.name)).toEqual(sorted);
        expect((await refs.list('refs/tags/')).map((r) => r.name)).toEqual(['refs/tags/t1']);
        expect((await refs.list('refs/heads/x')).map((r) => r.name)).toEqual(['refs/heads/x-1', 'refs/heads/x.1', 'refs/heads/x/1']);
        expect(await refs.list('refs/remotes/')).toEqual([]);
        const peeled = await refs.listPeeled('refs/heads/x/');
        expect(peeled.map(({ name, oid }) => ({ name, oid }))).toEqual([{ name: 'refs/heads/x/1', oid: c1 }]);
        expect(peeled[0]!.peeled === undefined || peeled[0]!.peeled === null || typeof peeled[0]!.peeled === 'string').toBe(true);
      });

      it('seeds a repository without refs in one step, and refuses once it has refs', async () => {
        await refs.seed([
          { name: 'refs/tags/v1', oid: c2 },
          { name: MAIN, oid: c1 },
        ]);
        expect(await listed()).toBe(`${c1} ${MAIN}\n${c2} refs/tags/v1`);
        expect(await refs.resolve('HEAD')).toBe(c1);
        const again = await refs.seed([{ name: 'refs/heads/other', oid: c3 }]).catch((e: unknown) => e);
        expect(isGitgateError(again, 'VALIDATION')).toBe(true);
        // seeded refs move like any other
        expect(await refs.update([{ name: MAIN, oldOid: c1, newOid: c3 }])).toEqual([ok(MAIN)]);
        expect(await refs.update([{ name: 'refs/tags/v1', oldOid: c2, newOid: null }])).toEqual([ok('refs/tags/v1')]);
        expect(await t.reopen().list()).toEqual([{ name: MAIN, oid: c3 }]);
      });
    });

    if (opts.crash) crashSuite(() => t, () => [c1, c2, c3]);
  });
}

/** Kill a batch at its k-th change, for every k; a restart must see every ref old or new, an atomic batch whole or not at all. */
function crashSuite(get: () => RefsUnderTest, ids: () => string[]): void {
  describe('crash in the middle of a batch', () => {
    const before = (c: string[]) => ({ 'refs/heads/main': c[1]!, 'refs/heads/old': c[1]!, 'refs/tags/v1': c[0]!, 'refs/heads/new': null as string | null });
    const after = (c: string[]) => ({ 'refs/heads/main': c[2]!, 'refs/heads/old': null as string | null, 'refs/tags/v1': null as string | null, 'refs/heads/new': c[0]! });

    for (const atomic of [true, false]) {
      it(`leaves each ref old or new${atomic ? ', and an atomic batch all old or all new' : ''}, at every step`, async () => {
        const t = get();
        const crash = t.crash!;
        expect(crash).toBeDefined();
        const c = ids();
        const names = Object.keys(before(c)) as (keyof ReturnType<typeof before>)[];
        let finished = false;
        for (let k = 1; !finished && k < 500; k++) {
          // the same starting point every time: main and old loose over packed-refs, v1 only packed
          const fresh = t.reopen();
          const current = await fresh.list();
          if (current.length) {
            const wipe = await fresh.update(current.map((r) => ({ name: r.name, oldOid: r.oid, newOid: null })));
            expect(wipe.every((r) => r.ok)).toBe(true);
          }
          // seed writes packed-refs when the implementation has one
          await fresh.seed([
            { name: 'refs/heads/main', oid: c[0]! },
            { name: 'refs/heads/old', oid: c[0]! },
            { name: 'refs/tags/v1', oid: c[0]! },
          ]);
          await fresh.update([
            { name: 'refs/heads/main', oldOid: c[0]!, newOid: c[1]! },
            { name: 'refs/heads/old', oldOid: c[0]!, newOid: c[1]! },
          ]);

          const dying = crash.dying(k);
          const results = await dying.refs
            .update(
              [
                { name: 'refs/heads/main', oldOid: c[1]!, newOid: c[2]! },
                { name: 'refs/heads/old', oldOid: c[1]!, newOid: null },
                { name: 'refs/tags/v1', oldOid: c[0]!, newOid: null },
                { name: 'refs/heads/new', oldOid: null, newOid: c[0]! },
              ],
              { atomic },
            )
            .catch(() => null);
          finished = !dying.died;
          if (finished) expect(results?.every((r) => r.ok)).toBe(true);

          await crash.recover();
          const seen = t.reopen();
          const state: Record<string, string | null> = {};
          for (const n of names) state[n] = await seen.resolve(n);
          const old = before(c);
          const neu = after(c);
          for (const n of names) expect([old[n], neu[n]], `${n} after a crash at change ${k}`).toContain(state[n]);
          if (atomic) {
            const whole = names.every((n) => state[n] === old[n]) || names.every((n) => state[n] === neu[n]);
            expect(whole, `atomic batch after a crash at change ${k}: ${JSON.stringify(state)}`).toBe(true);
          }
          if (finished) expect(state).toEqual(neu);
          await t.check(); // no lock left behind once recovery ran; C Git accepts the repository
        }
        expect(finished).toBe(true);
      });
    }
  });
}
