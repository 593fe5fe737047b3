// The CLI as tools use it: `gitgate serve` prints the listening line, `token create` prints
// only the secret, and that secret works in a clone URL.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commitFiles, gitOk, tmpDir } from '../helpers/git.js';
import { BIN, readBootstrapToken, runCli } from '../helpers/serve.js';

function serve(args: string[]): Promise<{ child: ChildProcess; url: string; stdout: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'serve', ...args], { env: { ...process.env, GITGATE_BCRYPT_ROUNDS: '4', LOG_LEVEL: 'silent' } });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no listening line: ${out}`)), 20_000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /^listening on (http:\/\/\S+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1]!, stdout: () => out });
      }
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${out}`)));
  });
}

describe('gitgate CLI', () => {
  let data: string;
  let server: Awaited<ReturnType<typeof serve>>;
  beforeAll(async () => {
    data = tmpDir('gitgate-cli-');
    server = await serve(['--port', '0', '--data', data]);
  });
  afterAll(() => {
    server.child.kill('SIGTERM');
  });

  it('prints the listening line on loopback and where the bootstrap token is (stdout is no terminal here)', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.stdout()).not.toMatch(/gg[wr]_/);
    expect(server.stdout()).toContain(path.join(data, 'bootstrap-token'));
    expect(readBootstrapToken(data)).toMatch(/^ggw_[A-Za-z0-9_]+$/);
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
  });

  it('mints a token whose only stdout is the secret, and it clones and pushes', async () => {
    const repo = await runCli(['repo', 'create', '--name', 'cli-repo', '--data', data]);
    expect(repo.code).toBe(0);
    const id = repo.stdout.trim();
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const tok = await runCli(['token', 'create', '--repo', id, '--permission', 'write', '--ttl', '3600', '--name', 'ci', '--data', data]);
    expect(tok.code).toBe(0);
    const secret = tok.stdout.trim();
    expect(secret).toMatch(/^ggr_[A-Za-z0-9_]+$/);
    expect(tok.stdout).toBe(`${secret}\n`);

    const u = new URL(`${server.url}/v1/repo/${id}.git`);
    u.username = 'token';
    u.password = secret;
    const w = path.join(tmpDir(), 'w');
    await gitOk(['clone', '-q', u.toString(), w]);
    await commitFiles(w, { 'hello.txt': 'hi\n' }, 'from the cli test');
    await gitOk(['push', '-q', 'origin', 'HEAD:main'], { cwd: w });
    const log = await gitOk(['--git-dir', path.join(data, `${id}.git`), 'log', '--format=%s', 'main']);
    expect(log).toBe('from the cli test\n');
    await gitOk(['--git-dir', path.join(data, `${id}.git`), 'fsck', '--full']);

    const json = await runCli(['token', 'create', '--workspace', '--permission', 'read', '--json', '--data', data]);
    expect(JSON.parse(json.stdout)).toMatchObject({ token: expect.stringMatching(/^ggw_/), kind: 'workspace', permission: 'read' });

    const list = await runCli(['token', 'list', '--json', '--data', data]);
    const items = JSON.parse(list.stdout) as { id: string; name: string }[];
    expect(items.some((t) => t.name === 'ci')).toBe(true);
    expect(list.stdout).not.toContain(secret);

    const ciId = items.find((t) => t.name === 'ci')!.id;
    expect((await runCli(['token', 'revoke', ciId, '--data', data])).code).toBe(0);
    const denied = await fetch(`${server.url}/v1/repo/${id}.git/info/refs?service=git-upload-pack`, { headers: { Authorization: `Bearer ${secret}` } });
    expect(denied.status).toBe(401);

    const repos = await runCli(['repo', 'list', '--json', '--data', data]);
    expect(JSON.parse(repos.stdout).map((r: { repo_id: string }) => r.repo_id)).toContain(id);
    // not a terminal: repo delete needs --yes, and refuses (exit 2, nothing deleted) without it
    const unconfirmed = await runCli(['repo', 'delete', 'cli-repo', '--data', data]);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toBe('gitgate: not a terminal: pass --yes to confirm\n');
    expect(fs.existsSync(path.join(data, `${id}.git`))).toBe(true);
    expect((await runCli(['repo', 'delete', 'cli-repo', '--yes', '--data', data])).code).toBe(0);
    expect(fs.existsSync(path.join(data, `${id}.git`))).toBe(false);
  });

  it('fails with one line and a non-zero exit on bad input, and has --help everywhere', async () => {
    // exit 2: the command line is wrong; exit 1: it was right and failed
    for (const [code, args] of [
      [2, ['token', 'create', '--data', data]],
      [2, ['token', 'create', '--workspace', '--ttl', 'soon', '--data', data]],
      [2, ['token', 'create', '--workspace', '--permission', 'root', '--data', data]],
      [2, ['token', 'list', '--limit', '0', '--data', data]],
      [2, ['token', 'list', '--bogus', '--data', data]],
      [2, ['repo', 'delete', '--data', data]],
      [2, ['bogus']],
      [2, ['serve', '--port', 'eighty']],
      [1, ['token', 'revoke', 'nope', '--data', data]],
      [1, ['repo', 'delete', 'nope', '--yes', '--data', data]],
    ] as const) {
      const r = await runCli([...args]);
      expect(r.code, args.join(' ')).toBe(code);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr).toMatch(/^gitgate: /);
    }
    for (const args of [['--help'], ['serve', '--help'], ['token', '--help'], ['token', 'create', '--help'], ['repo', 'list', '--help']]) {
      const r = await runCli(args);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/Usage: gitgate/);
    }
  });
});
