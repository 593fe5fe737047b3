// `gitgate migrate` and `gitgate db copy --from sqlite:PATH --to postgres://…`.
import path from 'node:path';
import { Command, Option } from 'commander';
import { loadConfig } from '../config.js';
import { GitgateError } from '../errors.js';
import { countRows } from '../db/copy.js';
import { exportSqlite } from '../db/sqlite/export.js';
import { importRows } from '../db/postgres/import.js';
import { runPgMigrations, PG_LATEST_VERSION } from '../db/postgres/migrations.js';
import { createPool } from '../db/postgres/stores.js';
import { SqliteStores } from '../db/sqlite/stores.js';
import { DB_FILE } from '../service/services.js';

export function dbCommands(program: Command, dataOption: () => Option, databaseOption: () => Option, out: (line: string) => void): void {
  program
    .command('migrate')
    .description('bring the database schema up to date (PostgreSQL with --database-url, else the SQLite file in --data); safe while other nodes start')
    .addOption(dataOption())
    .addOption(databaseOption())
    .action(async (opts: { data?: string; databaseUrl?: string }) => {
      const config = loadConfig({ data: opts.data, databaseUrl: opts.databaseUrl });
      if (config.databaseUrl) {
        const pool = createPool(config.databaseUrl, { max: 1 });
        try {
          const applied = await runPgMigrations(pool);
          out(applied.length ? `applied migrations ${applied.join(', ')}: schema at version ${PG_LATEST_VERSION}` : `schema already at version ${PG_LATEST_VERSION}`);
        } finally {
          await pool.end();
        }
      } else {
        // opening the SQLite file migrates it
        await new SqliteStores(path.join(config.dataDir, DB_FILE)).close();
        out(`SQLite database in ${config.dataDir} is up to date`);
      }
    });

  const db = program.command('db').description('move the control plane between databases');
  db.command('copy')
    .description('copy every token, repository, protected ref, audit event, webhook and delivery from a SQLite database into an empty PostgreSQL one (stop the server first)')
    .requiredOption('--from <source>', 'sqlite:PATH (a gitgate.db file, or a data directory holding one)')
    .requiredOption('--to <url>', 'postgres://… (migrated here; must hold no gitgate data)')
    .option('--json', 'print the row counts as JSON')
    .action(async (opts: { from: string; to: string; json?: boolean }) => {
      if (!opts.from.startsWith('sqlite:')) throw new GitgateError('CONFIG', { detail: '--from must be sqlite:PATH' });
      const url = loadConfig({ databaseUrl: opts.to }, {}).databaseUrl!;
      let file = path.resolve(opts.from.slice('sqlite:'.length));
      if (!file.endsWith('.db')) file = path.join(file, DB_FILE);
      const rows = exportSqlite(file);
      const pool = createPool(url, { max: 1 });
      try {
        await importRows(pool, rows);
      } finally {
        await pool.end();
      }
      const counts = countRows(rows);
      out(opts.json ? JSON.stringify(counts) : `copied ${Object.entries(counts).map(([t, n]) => `${n} ${t}`).join(', ')}`);
    });
}
