// The RefDatabase suite against the files implementation (RefStore) over both Storages, with
// crashes: a restart is recovery (repo/recovery.ts) and a fresh RefStore over the same files.
import { expect } from 'vitest';
import { initBareRepo } from '../../src/repo/init.js';
import { recoverRepository } from '../../src/repo/recovery.js';
import { RefStore } from '../../src/repo/refs.js';
import { dyingStorage } from '../helpers/dying-storage.js';
import { refDatabaseSuite } from './ref-database-suite.js';
import { STORAGE_KINDS, gitRaw, makeCommit, makeStorage, walkFiles } from './helpers.js';

for (const kind of STORAGE_KINDS) {
  refDatabaseSuite(
    `RefStore over ${kind}`,
    async () => {
      const ts = makeStorage(kind);
      const { storage } = ts;
      const gitdir = `${storage.root}/r.git`;
      await initBareRepo(storage, gitdir, 'main');
      let made: string[] = [];
      return {
        refs: new RefStore(storage, gitdir),
        reopen: () => new RefStore(storage, gitdir),
        // real commits, so C Git's fsck accepts every ref
        oids: async (n) => {
          while (made.length < n) made = [...made, await makeCommit(storage, gitdir, `commit ${made.length}`, made.slice(-1))];
          return made.slice(0, n);
        },
        check: async () => {
          const locks = (await walkFiles(storage, gitdir)).filter((f) => f.endsWith('.lock') || f.includes('gitgate-ref-txn'));
          expect(locks, 'lock files or a journal left behind').toEqual([]);
          if (kind === 'fs') {
            // C Git's fsck must accept the repository; a dangling symbolic ref some tests make on purpose is the one error allowed
            const fsck = gitRaw(['--git-dir', gitdir, 'fsck', '--full', '--strict', '--no-dangling']);
            const errors = fsck.stderr.split('\n').filter((l) => /^(error|fatal)/.test(l) && !/: invalid sha1 pointer 0{40}$/.test(l));
            expect(errors).toEqual([]);
            expect(gitRaw(['--git-dir', gitdir, 'for-each-ref']).status).toBe(0);
          }
        },
        cleanup: () => ts.cleanup(),
        crash: {
          dying: (k) => {
            const d = dyingStorage(storage, k);
            return {
              refs: new RefStore(d.storage, gitdir),
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
