// Loads the rows of `gitgate db copy` into a migrated, empty PostgreSQL database, in one
// transaction: all of it lands, or nothing.
import type pg from 'pg';
import { GitgateError } from '../../errors.js';
import { COPIED_TABLES, type TableRows } from '../copy.js';
import { runPgMigrations } from './migrations.js';

const BOOLEAN_COLUMNS = new Set(['allow_force', 'allow_delete']);

export async function importRows(pool: pg.Pool, rows: TableRows): Promise<void> {
  await runPgMigrations(pool);
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    try {
      const { rows: used } = await client.query<{ n: number }>(
        `SELECT (SELECT COUNT(*) FROM tokens) + (SELECT COUNT(*) FROM repos) + (SELECT COUNT(*) FROM audit_events) + (SELECT COUNT(*) FROM webhooks) AS n`,
      );
      if (Number(used[0]!.n) > 0) throw new GitgateError('CONFIG', { detail: 'the PostgreSQL database already holds gitgate data: copy only into an empty one' });
      for (const table of COPIED_TABLES) {
        if (table === 'webhook_dispatch') continue;
        for (const row of rows[table]) {
          const cols = Object.keys(row);
          const values = cols.map((c) => (BOOLEAN_COLUMNS.has(c) ? row[c] === 1 || row[c] === true : row[c]));
          await client.query(`INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')})`, values);
        }
      }
      const cursor = rows.webhook_dispatch[0]?.last_event_id ?? 0;
      await client.query('UPDATE webhook_dispatch SET last_event_id = $1 WHERE id = 1', [cursor]);
      // ids were copied as they were: new ones continue after them
      for (const table of ['audit_events', 'webhook_attempts']) {
        await client.query(`SELECT setval(pg_get_serial_sequence('${table}', 'id'), GREATEST((SELECT MAX(id) FROM ${table}), 1), (SELECT MAX(id) FROM ${table}) IS NOT NULL)`);
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK');
      throw err;
    }
  } finally {
    client.release();
  }
}
