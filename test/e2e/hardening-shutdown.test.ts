// Graceful shutdown of `gitgate serve`: on SIGTERM it stops accepting, lets a running clone
// finish, cuts off a push that outlives the deadline (GITGATE_SHUTDOWN_TIMEOUT_SECONDS) without
// changing the repository, closes SQLite cleanly and exits 0.
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gitOk, tmpDir } from '../helpers/git.js';
import { ZERO } from '../helpers/push.js';
import { readBootstrapToken } from '../helpers/serve.js';

const BIN = path.resolve(__dirname, '../../bin/gitgate.js');

function pkt(s: string): string {
  return (s.length + 4).toString(16).padStart(4, '0') + s;
}

function serve(data: string, env: Record<string, string>): Promise<{ child: ChildProcess; url: string; admin: string; exited: Promise<number | null>; stderr: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--data', data], {
      env: { ...process.env, GITGATE_BCRYPT_ROUNDS: '4', LOG_LEVEL: 'info', ...env },
    });
    let out = '';
    let err = '';
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    child.stderr.on('data', (d) => (err += d));
    child.stdout.on('data', (d) => {
      out += d;
      const m = /^listening on (http:\/\/\S+)$/m.exec(out);
      if (m) resolve({ child, url: m[1]!, admin: readBootstrapToken(data), exited, stderr: () => err });
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${out}${err}`)));
  });
}

/** POST raw bytes on a fresh connection; returns the socket and a promise of everything read. */
function rawPost(url: string, p: string, headers: Record<string, string>, body: Buffer | string, contentLength?: number) {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  const buf = typeof body === 'string' ? Buffer.from(body, 'latin1') : body;
  const head =
    `POST ${p} HTTP/1.1\r\nHost: ${hostname}\r\nConnection: close\r\n` +
    Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('') +
    `Content-Length: ${contentLength ?? buf.length}\r\n\r\n`;
  socket.write(head);
  socket.write(buf);
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  socket.on('error', () => undefined);
  const done = new Promise<Buffer>((resolve) => socket.on('close', () => resolve(Buffer.concat(chunks))));
  return { socket, done, received: () => chunks.reduce((n, c) => n + c.length, 0) };
}

/** A chunked HTTP/1.1 body, decoded (Node streams responses of unknown length chunked). */
function dechunk(b: Buffer): Buffer {
  const out: Buffer[] = [];
  let i = 0;
  for (;;) {
    const eol = b.indexOf('\r\n', i);
    if (eol < 0) throw new Error('truncated chunked body');
    const size = parseInt(b.subarray(i, eol).toString('latin1'), 16);
    if (size === 0) return Buffer.concat(out);
    out.push(b.subarray(eol + 2, eol + 2 + size));
    i = eol + 2 + size + 2;
  }
}

describe('graceful shutdown', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it('SIGTERM: a running clone finishes, a stalled push is cut off leaving the repository unchanged, SQLite closes cleanly', async () => {
    const data = tmpDir('gitgate-shutdown-');
    dirs.push(data);
    const srv = await serve(data, { GITGATE_SHUTDOWN_TIMEOUT_SECONDS: '2' });
    const auth = { Authorization: `Bearer ${srv.admin}` };
    // a repository whose pack is far bigger than the socket buffers
    const big = crypto.randomBytes(6 * 1024 * 1024).toString('base64');
    const res = await fetch(`${srv.url}/v1/repo`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ source: { type: 'files', files: [{ filename: 'big.txt', content: big }] } }),
    });
    expect(res.status).toBe(201);
    const { repo_id: repo, repo_head: head } = (await res.json()) as { repo_id: string; repo_head: string };

    // 1. a clone (v0 upload-pack, no side-band) that reads slowly
    const clone = rawPost(
      srv.url,
      `/v1/repo/${repo}.git/git-upload-pack`,
      { ...auth, 'Content-Type': 'application/x-git-upload-pack-request' },
      `${pkt(`want ${head}\n`)}0000${pkt('done\n')}`,
    );
    await new Promise<void>((r) => clone.socket.once('data', () => r()));
    clone.socket.pause();

    // 2. a push whose pack never finishes arriving
    const fakeNew = 'a'.repeat(40);
    const push = rawPost(
      srv.url,
      `/v1/repo/${repo}.git/git-receive-pack`,
      { ...auth, 'Content-Type': 'application/x-git-receive-pack-request' },
      `${pkt(`${ZERO} ${fakeNew} refs/heads/evil\0report-status`)}0000PACK\0\0\0\x02\0\0\0\x05`,
      10_000_000,
    );
    await new Promise((r) => setTimeout(r, 300));

    const t0 = Date.now();
    srv.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    // no new connections, but the process is still serving the clone
    await expect(fetch(`${srv.url}/healthz`)).rejects.toThrow();
    expect(srv.child.exitCode).toBe(null);
    clone.socket.resume();
    const body = await clone.done;
    const text = body.toString('latin1');
    expect(text).toMatch(/^HTTP\/1\.1 200 /);
    const payload = dechunk(body.subarray(body.indexOf('\r\n\r\n') + 4));
    const pack = payload.subarray(payload.indexOf(Buffer.from('PACK')));
    const trailer = pack.subarray(pack.length - 20);
    expect(crypto.createHash('sha1').update(pack.subarray(0, pack.length - 20)).digest().equals(trailer)).toBe(true); // complete
    expect(pack.length).toBeGreaterThan(4 * 1024 * 1024);

    // the push is cut off at the deadline; the process then exits 0
    const pushReply = await push.done;
    expect(pushReply.toString('latin1')).not.toMatch(/ok refs\/heads\/evil/);
    expect(await srv.exited).toBe(0);
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(1900);
    expect(elapsed).toBeLessThan(15_000);
    // both were really running when the signal came
    expect(srv.stderr()).toMatch(/"clones":1,"pushes":1,.*"msg":"shutting down: no new connections"/);
    expect(srv.stderr()).toMatch(/shutdown deadline reached/);
    expect(srv.stderr()).toMatch(/shutdown complete/);

    // repository unchanged and fsck-clean; SQLite closed cleanly (WAL checkpointed and removed)
    const gitdir = path.join(data, `${repo}.git`);
    expect((await gitOk(['--git-dir', gitdir, 'for-each-ref', '--format=%(refname) %(objectname)'])).trim()).toBe(`refs/heads/main ${head}`);
    await gitOk(['--git-dir', gitdir, 'fsck', '--full', '--strict', '--no-dangling']);
    expect(fs.existsSync(path.join(data, 'gitgate.db-wal'))).toBe(false);
  });

  it('SIGINT with nothing running exits at once', async () => {
    const data = tmpDir('gitgate-shutdown-');
    dirs.push(data);
    const srv = await serve(data, {});
    const t0 = Date.now();
    srv.child.kill('SIGINT');
    expect(await srv.exited).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});
