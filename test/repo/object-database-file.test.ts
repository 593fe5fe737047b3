// The ObjectDatabase suite against the files implementation (ObjectStore: packs + loose
// objects) over both Storages, with crashes: a restart is recovery (repo/recovery.ts) and a
// fresh ObjectStore over the same files.
import { expect } from 'vitest';
import { initBareRepo } from '../../src/repo/init.js';
import { ObjectStore } from '../../src/repo/object-store.js';
import { recoverRepository } from '../../src/repo/recovery.js';
import { dyingStorage } from '../helpers/dying-storage.js';
import { objectDatabaseSuite } from './object-database-suite.js';
import { STORAGE_KINDS, gitRaw, makeStorage, walkFiles } from './helpers.js';

for (const kind of STORAGE_KINDS) {
  objectDatabaseSuite(
    `ObjectStore over ${kind}`,
    async () => {
      const ts = makeStorage(kind);
      const { storage } = ts;
      const gitdir = `${storage.root}/r.git`;
      await initBareRepo(storage, gitdir, 'main');
      const objects = new ObjectStore(storage, gitdir);
      return {
        objects,
        reopen: () => new ObjectStore(storage, gitdir),
        check: async () => {
          const temporary = (await walkFiles(storage, `${gitdir}/objects`)).filter((f) => /\/tmp_|\.pack$/.test(f) && !(/\.pack$/.test(f) && /\/pack-[0-9a-f]{40}\.pack$/.test(f)));
          expect(temporary, 'temporary files left behind').toEqual([]);
          const packs = (await walkFiles(storage, `${gitdir}/objects/pack`)).filter((f) => f.endsWith('.pack'));
          for (const p of packs) expect(await storage.exists(p.replace(/\.pack$/, '.idx')), `${p} has its index`).toBe(true);
          if (kind === 'fs') expect(gitRaw(['--git-dir', gitdir, 'fsck', '--full', '--strict', '--no-dangling']).status).toBe(0);
        },
        cleanup: async () => {
          await objects.close();
          ts.cleanup();
        },
        crash: {
          dying: (k) => {
            const d = dyingStorage(storage, k);
            return {
              objects: new ObjectStore(d.storage, gitdir),
              get died() {
                return d.died;
              },
            };
          },
          recover: async () => {
            await recoverRepository(storage, gitdir);
          },
        },
      };
    },
    { crash: true },
  );
}
