// PostgreSQL migrations: N nodes starting at once apply each migration exactly once (advisory
// lock); `gitgate migrate` runs them explicitly; a newer schema is refused.
import { afterEach, describe, expect, it } from 'vitest';
import { createPool } from '../../src/db/postgres/stores.js';
import { PG_LATEST_VERSION, PG_MIGRATIONS, runPgMigrations } from '../../src/db/postgres/migrations.js';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/git.js';
import { freshDatabase, freshSchema } from '../helpers/postgres.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('PostgreSQL migrations', () => {
  it('eight nodes starting at once apply each migration exactly once', async () => {
    const { url, schema, drop } = await freshSchema();
    cleanups.push(drop);
    const pools = Array.from({ length: 8 }, () => createPool(url, { schema, max: 2 }));
    cleanups.push(async () => void (await Promise.all(pools.map((p) => p.end()))));
    const applied = await Promise.all(pools.map((p) => runPgMigrations(p)));
    expect(applied.flat().sort((a, b) => a - b)).toEqual(PG_MIGRATIONS.map((m) => m.version));
    const { rows } = await pools[0]!.query('SELECT version FROM gitgate_migrations ORDER BY version');
    expect(rows.map((r) => r.version)).toEqual(PG_MIGRATIONS.map((m) => m.version));
    expect(await runPgMigrations(pools[1]!)).toEqual([]); // idempotent
  });

  it('refuses a schema newer than this gitgate', async () => {
    const { url, schema, drop } = await freshSchema();
    cleanups.push(drop);
    const pool = createPool(url, { schema, max: 1 });
    cleanups.push(() => pool.end());
    await runPgMigrations(pool);
    await pool.query(`INSERT INTO gitgate_migrations (version, name) VALUES ($1, 'from the future')`, [PG_LATEST_VERSION + 1]);
    await expect(runPgMigrations(pool)).rejects.toMatchObject({ code: 'DB_TOO_NEW' });
  });

  it('gitgate migrate applies them once and then reports the schema current; a bad URL is a usage error', async () => {
    const { url, drop } = await freshDatabase();
    cleanups.push(drop);
    const first = await runCli(['migrate', '--database-url', url]);
    expect(first.stderr).toBe('');
    expect(first.stdout).toBe(`applied migrations ${PG_MIGRATIONS.map((m) => m.version).join(', ')}: schema at version ${PG_LATEST_VERSION}\n`);
    expect(first.code).toBe(0);
    const again = await runCli(['migrate'], { GITGATE_DATABASE_URL: url });
    expect(again.stdout).toBe(`schema already at version ${PG_LATEST_VERSION}\n`);
    const bad = await runCli(['migrate', '--database-url', 'mysql://u:hunter2@host/db']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/must be a postgres:\/\/ or postgresql:\/\/ URL/);
    expect(bad.stderr).not.toContain('hunter2');
    // gitgate backup copies SQLite only: with PostgreSQL it points to pg_dump instead of copying half
    const data = tmpDir();
    const backup = await runCli(['backup', '--to', `${data}/b`, '--data', data], { GITGATE_DATABASE_URL: url });
    expect(backup.code).toBe(2);
    expect(backup.stderr).toMatch(/pg_dump/);
  });
});
