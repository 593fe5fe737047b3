// The configuration schema: README's table and the schema name the same variables; bad values
// are CONFIG errors naming each variable and what it accepts; empty means unset, except where
// empty is a value.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_ENV_VARS, loadConfig } from '../src/config.js';

/** Read outside the schema, and why: before any module loads (V8 flags), or only by `serve`'s first start. */
const OUTSIDE_SCHEMA = ['GITGATE_LOW_MEMORY', 'GITGATE_BOOTSTRAP_TOKEN_FILE'];

function readmeVariables(): string[] {
  const text = fs.readFileSync(path.resolve(__dirname, '../README.md'), 'utf8');
  const table = text.slice(text.indexOf('## Configuration'));
  const rows = table.slice(0, table.indexOf('\n\n', table.indexOf('| variable |'))).split('\n').filter((l) => l.startsWith('| `'));
  return rows.flatMap((row) => [...row.split('|')[1]!.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]!));
}

describe('configuration', () => {
  it('README lists every variable of the schema, and the schema reads every variable README lists', () => {
    const documented = readmeVariables();
    expect(documented.length).toBeGreaterThan(40);
    expect(CONFIG_ENV_VARS.filter((v) => !documented.includes(v))).toEqual([]);
    expect(documented.filter((v) => !CONFIG_ENV_VARS.includes(v) && !OUTSIDE_SCHEMA.includes(v))).toEqual([]);
    expect(new Set(CONFIG_ENV_VARS).size).toBe(CONFIG_ENV_VARS.length);
  });

  it('names every bad variable with the range it accepts, flags included', () => {
    expect(() => loadConfig({ port: '70000' }, { GITGATE_BCRYPT_ROUNDS: '3', GITGATE_WEBHOOK_CONCURRENCY: '2.5' })).toThrow(
      'Invalid configuration: PORT must be an integer between 0 and 65535, got "70000"; GITGATE_BCRYPT_ROUNDS must be an integer between 4 and 31, got "3"; GITGATE_WEBHOOK_CONCURRENCY must be an integer between 1 and 64, got "2.5"',
    );
    expect(() => loadConfig({}, { GITGATE_IDLE_TIMEOUT_SECONDS: '86401' })).toThrow(/GITGATE_IDLE_TIMEOUT_SECONDS must be an integer between 0 and 86400, got "86401"/);
    expect(() => loadConfig({}, { LOG_FORMAT: 'xml' })).toThrow(/LOG_FORMAT must be one of json, pretty, got "xml"/);
    expect(() => loadConfig({}, { GITGATE_DATABASE_URL: 'mysql://root:hunter2@db/x' })).toThrow(/^Invalid configuration: GITGATE_DATABASE_URL \(--database-url\) must be a postgres:\/\/ or postgresql:\/\/ URL$/);
  });

  it('defaults come from the schema; seconds become milliseconds; an empty variable is unset', () => {
    const c = loadConfig({}, { GITGATE_MAX_PUSH_REFS: '', GITGATE_AUTH_BAN_SECONDS: '7', HOST: '' });
    expect(c).toMatchObject({ host: '127.0.0.1', port: 8080, maxPushRefs: 100_000, authBanMs: 7000, shutdownTimeoutMs: 30_000, webhookBackoffMs: 10_000, logFormat: 'json', metrics: 'loopback' });
    expect(c.caches).toEqual({ packObjectBytes: 32 * 1024 ** 2, clonePlanBytes: 64 * 1024 ** 2, searchBytes: 384 * 1024 ** 2, packBlockBytes: 16 * 1024 ** 2, bitmapBytes: 64 * 1024 ** 2, idleMs: 10_000 });
    expect(loadConfig({ port: 0, logPretty: true }, { PORT: '9', LOG_FORMAT: 'json' })).toMatchObject({ port: 0, logFormat: 'pretty' });
  });

  it('webhook URLs inherit the import allow-list when unset; an empty GITGATE_WEBHOOK_ALLOW_NETWORKS allows none', () => {
    const env = { GITGATE_IMPORT_ALLOW_NETWORKS: '10.0.0.0/8' };
    expect(loadConfig({}, env).webhookAllowNetworks).toEqual(['10.0.0.0/8']);
    expect(loadConfig({}, { ...env, GITGATE_WEBHOOK_ALLOW_NETWORKS: '' }).webhookAllowNetworks).toEqual([]);
    expect(loadConfig({}, { ...env, GITGATE_WEBHOOK_ALLOW_NETWORKS: '192.168.0.0/16' }).webhookAllowNetworks).toEqual(['192.168.0.0/16']);
  });
});
