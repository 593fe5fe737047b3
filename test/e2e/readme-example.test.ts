// The README's worked example of the agent loop (fork a template, mint an agent/* token, the
// agent writes over REST, the orchestrator hears of it, compares and merges into a protected
// main) is run exactly as printed there: the shell block is read out of README.md, so the
// README cannot drift from what the server does.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gitOk } from '../helpers/git.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { webhookReceiver, type Receiver } from '../helpers/webhook-receiver.js';

const README = path.resolve(__dirname, '../../README.md');
const MARKER = '<!-- worked-example: test/e2e/readme-example.test.ts runs this block as printed -->';

/** The ```sh block right after the marker line. */
function workedExample(readme: string): string {
  const at = readme.indexOf(MARKER);
  if (at < 0) throw new Error('README.md has no worked-example marker');
  const m = /^```sh\n([\s\S]*?)^```$/m.exec(readme.slice(at + MARKER.length));
  if (!m) throw new Error('no ```sh block after the worked-example marker');
  return m[1]!;
}

function runBash(script: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('the README worked example', () => {
  let s: TestServer;
  let hook: Receiver;
  const SECRET = 'whsec-readme-example';
  beforeAll(async () => {
    s = await startTestServer('fs', { GITGATE_WEBHOOK_ALLOW_NETWORKS: '127.0.0.0/8' });
    hook = await webhookReceiver(SECRET);
  });
  afterAll(async () => {
    await s.close();
    await hook.close();
  });

  it('runs as written: the agent branch is reviewed and squash-merged into protected main, the webhook is told', async () => {
    const script = workedExample(fs.readFileSync(README, 'utf8'));
    const r = await runBash(script, { GITGATE: s.url, ADMIN: s.admin, HOOK_URL: hook.url, HOOK_SECRET: SECRET });
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    const out = r.stdout;
    expect(out).toContain('agent writing main: 403');
    expect(out).toMatch(/^src\/greet\.mjs$/m); // search on the branch, and compare's first file
    expect(out).toContain('+export const greet = (name) => `hello, ${name}!`;');
    expect(out).toMatch(/task 1: greet with punctuation\n/);
    expect(out).toContain('tests pass');

    // the webhook received the agent's ref updates, signed
    const first = await hook.next();
    expect(first.signatureValid).toBe(true);
    expect(first.body.type).toBe('ref.update');
    expect(first.body.data.ref).toBe('refs/heads/agent/task-1');

    // on disk: the fork's main has the squash commit on top of the template's, and fscks clean
    const task = first.body.repo_id!;
    const bare = await s.bareRepo(task);
    expect((await gitOk(['--git-dir', bare, 'log', '--format=%s', 'main'])).trim().split('\n')).toEqual([
      'task 1: greet with punctuation',
      'Initial commit: add 1 file',
    ]);
    expect((await gitOk(['--git-dir', bare, 'for-each-ref', '--format=%(refname)'])).trim()).toBe('refs/heads/main'); // delete_head
    await s.fsck(task);
    // the agent's token is revoked at the end
    const tokens = await s.api.get(`/v1/repo_token?repo_id=${task}&include_revoked=true`).set('Authorization', `Bearer ${s.admin}`);
    const agent = tokens.body.items.find((t: { name: string }) => t.name === 'agent-task-1');
    expect(agent.refs).toEqual(['refs/heads/agent/*']);
    expect(agent.revoked_at).not.toBe(null);
  });
});
