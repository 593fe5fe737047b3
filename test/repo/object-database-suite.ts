// The one conformance suite every ObjectDatabase implementation passes. It talks only to
// src/repo/object-database.ts (and the pack writer/indexer of pack/, which build the packs it
// receives). An implementation's test file calls objectDatabaseSuite with a factory giving a
// fresh, empty repository; implementations with files also give `crash`, and the suite then
// kills inserts and pack installs at every step and checks what a restart sees.
import crypto from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { indexPack } from '../../src/pack/indexer.js';
import { writePack } from '../../src/pack/pack-writer.js';
import { hashObject } from '../../src/pack/types.js';
import type { ObjectDatabase } from '../../src/repo/object-database.js';

export interface ObjectsUnderTest {
  objects: ObjectDatabase;
  /** Another instance over the same objects (another process, or a restart). */
  reopen(): ObjectDatabase;
  /** After every test: what the implementation must leave (no temporary files, a repository C Git accepts). */
  check(): Promise<void>;
  cleanup(): Promise<void>;
  crash?: {
    dying(k: number): { objects: ObjectDatabase; readonly died: boolean };
    recover(): Promise<void>;
  };
}

const blob = (text: string) => ({ type: 'blob' as const, content: Buffer.from(text) });
const idOf = (o: { type: 'blob'; content: Buffer }) => hashObject(o.type, o.content).toString('hex');

/** Receive a pack of `objects` through the inserter; its name, or the error. */
async function receivePack(db: ObjectDatabase, objects: { type: 'blob'; content: Buffer }[], opts: { install?: boolean } = {}): Promise<string | null> {
  const receiver = await db.inserter.newPack();
  let closed = false;
  try {
    const result = await indexPack({
      input: writePack(objects.length, objects.map((o) => ({ kind: 'object' as const, ...o }))),
      output: receiver.handle,
    });
    await receiver.handle.sync();
    await receiver.handle.close();
    closed = true;
    return opts.install === false ? null : await receiver.install(result.idx, result.packChecksum);
  } finally {
    if (!closed) await receiver.handle.close().catch(() => undefined);
    await receiver.discard();
  }
}

export function objectDatabaseSuite(name: string, open: () => Promise<ObjectsUnderTest>, opts: { crash: boolean }): void {
  describe(`ObjectDatabase conformance: ${name}`, () => {
    let t: ObjectsUnderTest;
    let db: ObjectDatabase;

    beforeEach(async () => {
      t = await open();
      db = t.objects;
    });

    afterEach(async () => {
      try {
        await t.check();
      } finally {
        await t.cleanup();
      }
    });

    it('inserts objects under their ids and reads them back; a second insert is a no-op', async () => {
      const a = blob('hello\n');
      const id = await db.inserter.insert(a.type, a.content);
      expect(id).toBe(idOf(a));
      expect(id).toBe('ce013625030ba8dba906f756967f9e9ca394464a'); // git hash-object of "hello\n"
      expect(await db.inserter.insert(a.type, a.content)).toBe(id);
      expect(await db.has(id)).toBe(true);
      expect(await db.read(id)).toEqual({ type: 'blob', content: a.content });
      expect(await db.readType(id)).toEqual({ type: 'blob', size: 6 });
      const other = t.reopen();
      expect(await other.read(id)).toEqual({ type: 'blob', content: a.content });
    });

    it('answers missing objects with false and null', async () => {
      const missing = crypto.randomBytes(20).toString('hex');
      expect(await db.has(missing)).toBe(false);
      expect(await db.read(missing)).toBeNull();
      expect(await db.readType(missing)).toBeNull();
      expect(await db.locate(missing)).toBeNull();
    });

    it('installs a received pack whole: every object readable and located in it, the pack listed', async () => {
      const objs = Array.from({ length: 30 }, (_, i) => blob(`object ${i}\n${'x'.repeat(i * 10)}`));
      const name = await receivePack(db, objs);
      expect(name).toMatch(/^pack-[0-9a-f]{40}$/);
      for (const o of objs) {
        expect(await db.read(idOf(o))).toEqual(o);
        expect(await db.readType(idOf(o))).toEqual({ type: 'blob', size: o.content.length });
        expect(db.inPacks(Buffer.from(idOf(o), 'hex'))).toBe(true);
        expect((await db.locate(idOf(o)))?.pack).toBeDefined();
      }
      expect((await db.packInfos()).map((p) => [p.name, p.count])).toEqual([[name, 30]]);
      expect(await db.allPacks()).toHaveLength(1);
      // another instance (another process) finds it too
      const other = t.reopen();
      expect(await other.has(idOf(objs[29]!))).toBe(true);
      await other.close();
    });

    it('leaves nothing of a pack that is discarded instead of installed', async () => {
      const objs = [blob('never\n'), blob('installed\n')];
      expect(await receivePack(db, objs, { install: false })).toBeNull();
      for (const o of objs) expect(await db.has(idOf(o))).toBe(false);
      expect(await db.packInfos()).toEqual([]);
    });

    it('stores every one of many concurrent inserts, the same object from several writers included', async () => {
      const objs = Array.from({ length: 40 }, (_, i) => blob(`racer ${i % 10}\n`));
      const instances = [db, t.reopen()];
      const ids = await Promise.all(objs.map((o, i) => instances[i % 2]!.inserter.insert(o.type, o.content)));
      expect(ids).toEqual(objs.map(idOf));
      for (const o of objs) expect(await db.read(idOf(o))).toEqual(o);
      await instances[1]!.close();
    });

    it('keeps a retired pack readable for pinned readers only, and lists it again once unignored', async () => {
      const objs = [blob('kept open\n'), blob('for a reader\n')];
      const name = (await receivePack(db, objs))!;
      const release = db.pin();
      const loc = (await db.locate(idOf(objs[0]!)))!;
      await db.retirePacks([name]);
      expect(db.ignoredPacks).toEqual([name]);
      expect(await db.has(idOf(objs[0]!))).toBe(false); // no new lookup finds it, a rescan included
      expect(await loc.pack.readAt(loc.offset)).toEqual(objs[0]); // the pinned reader still reads
      expect(db.usage.retired).toBe(1);
      release();
      await new Promise((r) => setImmediate(r));
      expect(db.usage).toMatchObject({ active: 0, retired: 0 });
      db.unignore([name]);
      await db.rescan();
      expect(await db.has(idOf(objs[1]!))).toBe(true);
    });

    if (opts.crash) {
      describe('crash in the middle', () => {
        it('loses no stored object and shows a pack whole or not at all, whichever step the install dies at', async () => {
          const crash = t.crash!;
          expect(crash).toBeDefined();
          const stored = [blob('stored loose\n')];
          await db.inserter.insert(stored[0]!.type, stored[0]!.content);
          const packed = [blob('stored packed 1\n'), blob('stored packed 2\n')];
          await receivePack(db, packed);
          let finished = false;
          for (let k = 1; !finished && k < 500; k++) {
            const incoming = Array.from({ length: 5 }, (_, i) => blob(`incoming ${k} ${i}\n`));
            const dying = crash.dying(k);
            const name = await receivePack(dying.objects, incoming).catch(() => null);
            finished = !dying.died;
            if (finished) expect(name).toMatch(/^pack-/);
            await dying.objects.close();
            await crash.recover();
            const seen = t.reopen();
            for (const o of [...stored, ...packed]) expect(await seen.read(idOf(o)), `a stored object after a crash at change ${k}`).toEqual(o);
            const present = await Promise.all(incoming.map((o) => seen.has(idOf(o))));
            expect(present.every(Boolean) || present.every((p) => !p), `the pack after a crash at change ${k}: ${present}`).toBe(true);
            if (finished) expect(present.every(Boolean)).toBe(true);
            for (const o of incoming) if (await seen.has(idOf(o))) expect(await seen.read(idOf(o))).toEqual(o);
            await seen.close();
            await t.check();
          }
          expect(finished).toBe(true);
        });

        it('stores an inserted object whole or not at all, whichever step the insert dies at', async () => {
          const crash = t.crash!;
          expect(crash).toBeDefined();
          let finished = false;
          for (let k = 1; !finished && k < 100; k++) {
            const o = blob(`inserted at ${k}\n`);
            const dying = crash.dying(k);
            const id = await dying.objects.inserter.insert(o.type, o.content).catch(() => null);
            finished = !dying.died;
            if (finished) expect(id).toBe(idOf(o));
            await dying.objects.close();
            await crash.recover();
            const seen = t.reopen();
            const read = await seen.read(idOf(o));
            expect(read === null || read.content.equals(o.content), `the object after a crash at change ${k}`).toBe(true);
            if (finished) expect(read).toEqual(o);
            await seen.close();
            await t.check();
          }
          expect(finished).toBe(true);
        });
      });
    }
  });
}
