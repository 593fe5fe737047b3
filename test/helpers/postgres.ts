// The PostgreSQL every PostgreSQL test uses, found once per test process:
// GITGATE_TEST_DATABASE_URL if set; else postgres://postgres@127.0.0.1:5432/test if it answers;
// else one started here from the system's binaries (initdb + postgres on a socket in a temp
// dir, as a non-root user when run as root). Neither → the test fails with one clear line,
// never a silent skip. Each caller gets its own fresh schema or database, so parallel test
// files never collide.
import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

const LOCAL_URL = 'postgres://postgres@127.0.0.1:5432/test';
const BIN_DIRS = ['/usr/local/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/15/bin', '/usr/lib/postgresql/14/bin', '/usr/bin'];

let server: Promise<string> | null = null;

/** The admin URL of the test PostgreSQL (a database we may create schemas and databases in). */
export function testDatabaseUrl(): Promise<string> {
  server ??= find();
  return server;
}

async function find(): Promise<string> {
  const fromEnv = process.env.GITGATE_TEST_DATABASE_URL;
  if (fromEnv) {
    if (!(await answers(fromEnv))) throw new Error(`GITGATE_TEST_DATABASE_URL (${redact(fromEnv)}) does not answer`);
    return fromEnv;
  }
  if (await answers(LOCAL_URL)) return LOCAL_URL;
  const url = await startFromBinaries();
  if (url) return url;
  throw new Error(
    `no PostgreSQL for the tests: set GITGATE_TEST_DATABASE_URL, run one on 127.0.0.1:5432 (database "test", user postgres), or install initdb/postgres`,
  );
}

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

function binary(name: string): string | null {
  for (const dir of BIN_DIRS) {
    const file = path.join(dir, name);
    if (fs.existsSync(file)) return file;
  }
  return null;
}

/** initdb + postgres in a temp dir, listening on a Unix socket only; stopped when this process is gone. */
export async function startFromBinaries(): Promise<string | null> {
  const initdb = binary('initdb');
  const postgres = binary('postgres');
  if (!initdb || !postgres) return null;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitgate-pg-'));
  const data = path.join(dir, 'data');
  // PostgreSQL refuses to run as root: run as nobody, owning the temp dir
  const asRoot = process.getuid?.() === 0;
  const run = (file: string, args: string[]) => (asRoot ? ['runuser', ['-u', 'nobody', '--', file, ...args]] : [file, args]) as [string, string[]];
  if (asRoot) execFileSync('chown', ['nobody', dir]);
  fs.chmodSync(dir, 0o755);
  execFileSync(...run(initdb, ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync']), { stdio: 'ignore' });
  // a watchdog shell stops this server (by the pid in postmaster.pid) and removes its files once
  // the test process is gone, however it ends
  const [cmd, args] = run(postgres, ['-D', data, '-k', dir, '-c', 'listen_addresses=', '-c', 'fsync=off']);
  const quoted = [cmd, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const watchdog = `${quoted} & while [ -d /proc/${process.pid} ]; do sleep 1; done; kill -INT "$(head -1 '${data}/postmaster.pid')"; wait; rm -rf '${dir}'`;
  spawn('/bin/sh', ['-c', watchdog], { stdio: 'ignore', detached: true }).unref();
  const url = `postgres://postgres@/postgres?host=${encodeURIComponent(dir)}`;
  for (let i = 0; i < 100; i++) {
    if (await answers(url)) return url;
    await new Promise((r) => setTimeout(r, 100));
  }
  return null;
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}

function freshName(prefix: string): string {
  return `${prefix}_${process.pid}_${crypto.randomBytes(5).toString('hex')}`;
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: await testDatabaseUrl() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A new empty schema in the test database: pass `schema` to PostgresStores. */
export async function freshSchema(): Promise<{ url: string; schema: string; drop: () => Promise<void> }> {
  const url = await testDatabaseUrl();
  const schema = freshName('gg');
  await admin((c) => c.query(`CREATE SCHEMA ${schema}`));
  return { url, schema, drop: () => admin((c) => c.query(`DROP SCHEMA ${schema} CASCADE`)).then(() => undefined) };
}

/** A new empty database (for spawned servers, which take only a URL). */
export async function freshDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const base = await testDatabaseUrl();
  const name = freshName('gg');
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const u = new URL(base);
  u.pathname = `/${name}`;
  return { url: u.toString(), drop: () => admin((c) => c.query(`DROP DATABASE ${name} WITH (FORCE)`)).then(() => undefined) };
}
