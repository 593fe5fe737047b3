// The CLI as an operator meets it: --version, exit codes, a mistyped --data refused instead of
// silently created, token list paging with marks and repository names, durations, --json on
// every command that changes something.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { tmpDir } from '../helpers/git.js';
import { BIN, runCli } from '../helpers/serve.js';

/** Run gitgate on a pseudo-terminal (util-linux `script`), typing `input`. */
function onTerminal(args: string[], input: string): Promise<{ code: number; output: string }> {
  const quoted = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', quoted, '/dev/null'], { env: { ...process.env, GITGATE_BCRYPT_ROUNDS: '4' } });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', (err) => reject(new Error(`this test needs util-linux script(1) for a terminal: ${err.message}`)));
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
    child.stdin.end(input);
  });
}

const version = (JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../package.json'), 'utf8')) as { version: string }).version;

async function ok(args: string[]): Promise<string> {
  const r = await runCli(args);
  if (r.code !== 0) throw new Error(`gitgate ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

describe('gitgate CLI polish', () => {
  let data: string;
  beforeAll(() => {
    data = path.join(tmpDir('gitgate-polish-'), 'data');
  });

  it('prints its version with --version and -V', async () => {
    for (const flag of ['--version', '-V']) {
      const r = await runCli([flag]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`${version}\n`);
    }
  });

  it('refuses a data directory that does not exist (exit 1, nothing created) unless --init', async () => {
    for (const args of [['token', 'list'], ['token', 'create', '--workspace'], ['repo', 'list'], ['repo', 'create'], ['audit', 'list']]) {
      const r = await runCli([...args, '--data', data]);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toBe(`gitgate: Data directory ${data} does not exist; check --data / GITGATE_DATA, or pass --init to create it\n`);
      expect(r.stdout).toBe('');
      expect(fs.existsSync(data)).toBe(false);
    }
    expect(await ok(['repo', 'list', '--init', '--data', data])).toBe('');
    expect(fs.statSync(data).mode & 0o777).toBe(0o700);
    expect(await ok(['repo', 'list', '--data', data])).toBe(''); // exists now: no --init needed
  });

  it('accepts durations 30m, 12h, 7d (and seconds) for --ttl and --grace; anything else is a usage error', async () => {
    for (const [ttl, seconds] of [['30m', 1800], ['12h', 43_200], ['7d', 604_800], ['90', 90]] as const) {
      const t = JSON.parse(await ok(['token', 'create', '--workspace', '--ttl', ttl, '--json', '--data', data])) as { created_at: string; expires_at: string };
      expect((Date.parse(t.expires_at) - Date.parse(t.created_at)) / 1000, ttl).toBe(seconds);
    }
    for (const ttl of ['7w', '1.5h', '-1m', '0', 'h']) {
      const r = await runCli(['token', 'create', '--workspace', '--ttl', ttl, '--data', data]);
      expect(r.code, ttl).toBe(2);
      expect(r.stderr).toMatch(/^gitgate: --ttl must be a positive duration \(seconds, or 90s, 30m, 1h, 7d\)/);
    }
    const t = JSON.parse(await ok(['token', 'create', '--workspace', '--json', '--data', data])) as { id: string };
    const rotated = JSON.parse(await ok(['token', 'rotate', t.id, '--grace', '1h', '--json', '--data', data])) as { previous_secret_valid_until: string; rotated_at?: string };
    expect(Date.parse(rotated.previous_secret_valid_until) - Date.now()).toBeGreaterThan(3000_000);
    expect((await runCli(['token', 'rotate', t.id, '--grace', '8d', '--data', data])).code).toBe(2);
  });

  it('token list: newest first, --limit with a note on stderr when more exist, repository names, EXPIRED and REVOKED marked', async () => {
    const fresh = path.join(tmpDir('gitgate-polish-list-'), 'data');
    const repo = (await ok(['repo', 'create', '--name', 'named-repo', '--init', '--data', fresh])).trim();
    const ids: string[] = [];
    for (const name of ['first', 'second', 'third', 'fourth']) {
      ids.push((JSON.parse(await ok(['token', 'create', '--repo', repo, '--name', name, '--ttl', '1h', '--json', '--data', fresh])) as { id: string }).id);
    }
    // make "second" expired (an hour is too long to wait for)
    const db = new Database(path.join(fresh, 'gitgate.db'));
    db.prepare('UPDATE tokens SET expires_at = ? WHERE id = ?').run('2001-01-01T00:00:00.000Z', ids[1]);
    db.close();
    const revoked = JSON.parse(await ok(['token', 'revoke', ids[2]!, '--json', '--data', fresh]));
    expect(revoked).toEqual({ id: ids[2], revoked: 1 });

    const all = await runCli(['token', 'list', '--all', '--data', fresh]);
    expect(all.code).toBe(0);
    expect(all.stderr).toBe('');
    const lines = all.stdout.trim().split('\n').map((l) => l.split('\t'));
    expect(lines.map((l) => l[0])).toEqual([...ids].reverse());
    for (const l of lines) expect(l[2]).toBe('named-repo');
    expect(lines.map((l) => l[4]!.split(' ')[0])).toEqual(['expires', 'REVOKED', 'EXPIRED', 'expires']);

    const page = await runCli(['token', 'list', '--all', '--limit', '2', '--data', fresh]);
    expect(page.stdout.trim().split('\n').map((l) => l.split('\t')[0])).toEqual([ids[3], ids[2]]);
    expect(page.stderr).toBe('gitgate: 2 older token(s) not shown; use --limit (at most 1000) or --repo\n');
    const json = await runCli(['token', 'list', '--all', '--limit', '2', '--json', '--data', fresh]);
    expect((JSON.parse(json.stdout) as { id: string }[]).map((t) => t.id)).toEqual([ids[3], ids[2]]);
    // without --all the revoked one is left out; --repo takes the name
    const live = await ok(['token', 'list', '--repo', 'named-repo', '--data', fresh]);
    expect(live.trim().split('\n').map((l) => l.split('\t')[0])).toEqual([ids[3], ids[1], ids[0]]);
  });

  it('repo delete on a terminal asks for the repository name and deletes only when it is typed', async () => {
    const id = (await ok(['repo', 'create', '--name', 'asked', '--data', data])).trim();
    const wrong = await onTerminal(['repo', 'delete', 'asked', '--data', data], 'nope\n');
    expect(wrong.output).toContain('This deletes repository asked and all its data. Type asked to confirm:');
    expect(wrong.output).toContain('gitgate: not confirmed: nothing deleted');
    expect(wrong.code).toBe(2);
    expect(fs.existsSync(path.join(data, `${id}.git`))).toBe(true);
    const right = await onTerminal(['repo', 'delete', 'asked', '--data', data], 'asked\n');
    expect(right.code).toBe(0);
    expect(right.output).toContain(`deleted ${id}`);
    expect(fs.existsSync(path.join(data, `${id}.git`))).toBe(false);
  });

  it('--json on repo protect, unprotect and delete', async () => {
    const id = (await ok(['repo', 'create', '--name', 'to-delete', '--data', data])).trim();
    expect(JSON.parse(await ok(['repo', 'protect', id, 'refs/heads/main', 'refs/tags/*', '--json', '--data', data]))).toEqual({ patterns: ['refs/heads/main', 'refs/tags/*'] });
    expect(JSON.parse(await ok(['repo', 'unprotect', id, 'refs/tags/*', '--json', '--data', data]))).toEqual({ patterns: ['refs/heads/main'] });
    expect(JSON.parse(await ok(['repo', 'delete', 'to-delete', '--yes', '--json', '--data', data]))).toEqual({ repo_id: id, deleted: true });
    expect(fs.existsSync(path.join(data, `${id}.git`))).toBe(false);
  });
});
