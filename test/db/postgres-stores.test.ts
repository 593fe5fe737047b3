// The shared store conformance suite (store-suite.ts) against PostgreSQL: each test gets a
// fresh schema in the test database (test/helpers/postgres.ts), and `reopen` a second pool on
// it (another node).
import { PostgresStores } from '../../src/db/postgres/stores.js';
import { freshSchema } from '../helpers/postgres.js';
import { storeConformanceSuite } from './store-suite.js';

storeConformanceSuite('PostgreSQL', async ({ now }) => {
  const { url, schema, drop } = await freshSchema();
  return Object.assign(new PostgresStores(url, { now, schema }), {
    reopen: async () => new PostgresStores(url, { now, schema }),
    cleanup: drop,
  });
});
