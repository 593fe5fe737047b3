// The RefDatabase suite against the in-memory implementation (a Map, no Storage). It has no
// crash section: a batch there is one synchronous change, with no step in between to die at.
import crypto from 'node:crypto';
import { InMemoryRefDatabase, type MemoryRefState } from '../../src/repo/memory-refs.js';
import { refDatabaseSuite } from './ref-database-suite.js';

refDatabaseSuite(
  'InMemoryRefDatabase',
  async () => {
    const state: MemoryRefState = new Map([['HEAD', { kind: 'symref', target: 'refs/heads/main' }]]);
    const made: string[] = [];
    return {
      refs: new InMemoryRefDatabase(state),
      reopen: () => new InMemoryRefDatabase(state),
      oids: async (n) => {
        while (made.length < n) made.push(crypto.randomBytes(20).toString('hex'));
        return made.slice(0, n);
      },
      check: async () => undefined,
      cleanup: () => undefined,
    };
  },
  { crash: false },
);
