// Crash safety and memory, with gitgate as users run it (`bin/gitgate.js serve`, node fs):
// a server killed with SIGKILL in the middle of a push leaves a repository that is fsck-clean,
// with every ref at its old or new value; the restarted server removes the leftovers and the
// next push works. A 30 MB push raises the server's RSS by at most 64 MiB.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { commitFiles, git, gitOk, tmpDir } from '../helpers/git.js';
import { remoteRef, rev } from '../helpers/push.js';
import { readBootstrapToken } from '../helpers/serve.js';

const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, 'bin/gitgate.js');

/** bin/gitgate.js runs dist/: build it when src/ is newer (npm test builds first anyway). */
function ensureBuilt(): void {
  const newest = (dir: string): number =>
    fs.readdirSync(dir, { withFileTypes: true }).reduce((m, e) => {
      const p = path.join(dir, e.name);
      return Math.max(m, e.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs);
    }, 0);
  const built = fs.existsSync(path.join(ROOT, 'dist/cli/main.js')) ? newest(path.join(ROOT, 'dist')) : 0;
  if (built < newest(path.join(ROOT, 'src'))) {
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
  }
}

interface Served {
  child: ChildProcess;
  url: string;
  stdout: string;
}

function serve(data: string): Promise<Served> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--data', data], {
      env: { ...process.env, GITGATE_BCRYPT_ROUNDS: '4', LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no listening line: ${out}`)), 20_000);
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /^listening on (http:\/\/\S+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1]!, stdout: out });
      }
    });
    child.stderr!.resume();
    child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${out}`)));
  });
}

function kill(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

/** Temporary files, locks and index-less packs in a repository on disk. */
function leftovers(gitdir: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/^tmp_|\.lock$|\.tmp-/.test(e.name)) out.push(path.relative(gitdir, p));
      else if (/^pack-[0-9a-f]{40}\.pack$/.test(e.name) && !fs.existsSync(p.replace(/\.pack$/, '.idx'))) out.push(path.relative(gitdir, p));
    }
  };
  walk(gitdir);
  return out;
}

async function fsck(gitdir: string): Promise<void> {
  await gitOk(['--git-dir', gitdir, 'fsck', '--full', '--strict', '--no-dangling']);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a push interrupted by SIGKILL (fs storage, real server process)', () => {
  let data: string;
  let server: Served | null = null;
  let admin: string;
  let id: string;
  let gitdir: string;
  let url: string;

  beforeAll(async () => {
    ensureBuilt();
    data = tmpDir('gitgate-crash-');
    server = await serve(data);
    admin = readBootstrapToken(data);
    const res = await fetch(`${server.url}/v1/repo`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${admin}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ source: { type: 'files', files: [{ filename: 'a.txt', content: 'a\n' }] } }),
    });
    expect(res.status).toBe(201);
    id = ((await res.json()) as { repo_id: string }).repo_id;
    gitdir = path.join(data, `${id}.git`);
  });
  afterEach(async () => {
    // every test leaves a server running for the next one
    if (!server || server.child.exitCode !== null || server.child.signalCode !== null) server = await serve(data);
  });
  afterAll(async () => {
    if (server) await kill(server.child, 'SIGTERM');
    fs.rmSync(data, { recursive: true, force: true });
  });

  const urlOf = (s: Served) => {
    const u = new URL(`${s.url}/v1/repo/${id}.git`);
    u.username = 'token';
    u.password = admin;
    return u.toString();
  };

  it('in the middle of the upload: restart, no leftovers, refs at their old value, fsck clean, the next push works', async () => {
    url = urlOf(server!);
    const w = path.join(tmpDir(), 'w');
    await gitOk(['clone', '-q', url, w]);
    const before = await rev(w, 'HEAD');
    fs.writeFileSync(path.join(w, 'big.bin'), crypto.randomBytes(32 * 1024 * 1024));
    const big = await commitFiles(w, {}, 'big');

    // throttle nothing: kill as soon as the server has spooled a few MB of the pack
    const push = git(['push', 'origin', 'main'], { cwd: w });
    const packDir = path.join(gitdir, 'objects', 'pack');
    let seen = 0;
    for (let i = 0; i < 2000 && seen < 4 * 1024 * 1024; i++) {
      for (const f of fs.readdirSync(packDir)) {
        if (f.startsWith('tmp_pack_')) seen = Math.max(seen, fs.statSync(path.join(packDir, f), { throwIfNoEntry: false })?.size ?? 0);
      }
      if (seen < 4 * 1024 * 1024) await sleep(5);
    }
    expect(seen).toBeGreaterThan(0);
    await kill(server!.child, 'SIGKILL');
    const pushed = await push;
    expect(pushed.code).not.toBe(0);
    expect(leftovers(gitdir).some((f) => f.startsWith('objects/pack/tmp_pack_'))).toBe(true); // what a crash leaves

    server = await serve(data);
    url = urlOf(server);
    expect(leftovers(gitdir)).toEqual([]);
    await fsck(gitdir);
    expect(await remoteRef(url, 'refs/heads/main')).toBe(before);

    await gitOk(['remote', 'set-url', 'origin', url], { cwd: w });
    const retry = await git(['push', 'origin', 'main'], { cwd: w });
    expect(retry.code, retry.stderr).toBe(0);
    expect(await remoteRef(url, 'refs/heads/main')).toBe(big);
    await fsck(gitdir);
  });

  it('at any moment of a push: every ref ends at its old or its new value, and the repository stays usable', async () => {
    const w = path.join(tmpDir(), 'w');
    await gitOk(['clone', '-q', urlOf(server!), w]);
    for (const delay of [30, 120, 250, 400, 600]) {
      url = urlOf(server!);
      await gitOk(['remote', 'set-url', 'origin', url], { cwd: w });
      await gitOk(['fetch', '-q', 'origin'], { cwd: w });
      await gitOk(['reset', '-q', '--hard', 'origin/main'], { cwd: w });
      const old = await rev(w, 'HEAD');
      const oldSide = await remoteRef(url, 'refs/heads/side');
      fs.writeFileSync(path.join(w, `blob-${delay}.bin`), crypto.randomBytes(6 * 1024 * 1024));
      const next = await commitFiles(w, { 'n.txt': `${delay}\n` }, `at ${delay} ms`);
      const push = git(['push', 'origin', 'main', 'HEAD:refs/heads/side'], { cwd: w });
      await sleep(delay);
      await kill(server!.child, 'SIGKILL');
      await push;

      server = await serve(data);
      url = urlOf(server);
      expect(leftovers(gitdir)).toEqual([]);
      await fsck(gitdir);
      expect([old, next]).toContain(await remoteRef(url, 'refs/heads/main'));
      expect([oldSide, next]).toContain(await remoteRef(url, 'refs/heads/side'));
    }
    // and the repository takes pushes and serves clones afterwards
    await gitOk(['remote', 'set-url', 'origin', url], { cwd: w });
    const last = await commitFiles(w, { 'last.txt': 'last\n' }, 'after the crashes');
    await gitOk(['push', '-q', '--force', 'origin', 'HEAD:main', 'HEAD:refs/heads/side'], { cwd: w });
    expect(await remoteRef(url, 'refs/heads/main')).toBe(last);
    await gitOk(['clone', '-q', url, path.join(tmpDir(), 'c')]);
    await fsck(gitdir); // a background repack may run meanwhile: replaced packs stay on disk for a while

  });

  it('removes lock files and temporary files a crash left, so the refs they guard can move again', async () => {
    url = urlOf(server!);
    const w = path.join(tmpDir(), 'w');
    await gitOk(['clone', '-q', url, w]);
    await kill(server!.child, 'SIGTERM');
    const planted = [
      'refs/heads/main.lock',
      'packed-refs.lock',
      'HEAD.lock',
      'objects/pack/tmp_pack_12345-abcdef',
      'objects/pack/tmp_idx_12345-abcdef',
      'objects/pack/tmp_idx_1-x.tmp-99-abc',
      `objects/pack/pack-${'1'.repeat(40)}.pack`,
      'objects/ab/tmp_obj_xyz',
    ];
    for (const rel of planted) {
      fs.mkdirSync(path.dirname(path.join(gitdir, rel)), { recursive: true });
      fs.writeFileSync(path.join(gitdir, rel), 'leftover');
    }
    expect(leftovers(gitdir).length).toBeGreaterThanOrEqual(planted.length - 1);
    server = await serve(data);
    url = urlOf(server);
    expect(leftovers(gitdir)).toEqual([]);
    await gitOk(['remote', 'set-url', 'origin', url], { cwd: w });
    const c = await commitFiles(w, { 'after.txt': 'after\n' }, 'after recovery');
    await gitOk(['push', '-q', 'origin', 'main'], { cwd: w });
    expect(await remoteRef(url, 'refs/heads/main')).toBe(c);
    await fsck(gitdir);
  });

  it('raises the server RSS by at most 64 MiB for a 30 MB push', async () => {
    const status = (pid: number) => fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (text: string, key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)![1]);
    if (!fs.existsSync('/proc/self/status')) return;
    url = urlOf(server!);
    const w = path.join(tmpDir(), 'w');
    await gitOk(['clone', '-q', url, w]);
    // warm up (first push loads code paths), then measure
    await commitFiles(w, { 'warm.txt': 'warm\n' }, 'warm up');
    await gitOk(['push', '-q', 'origin', 'main'], { cwd: w });
    await sleep(500);
    const pid = server!.child.pid!;
    const baseline = kb(status(pid), 'VmRSS');
    try {
      fs.writeFileSync(`/proc/${pid}/clear_refs`, '5'); // reset the peak to the current RSS
    } catch {
      // older kernels: VmHWM keeps the startup peak, which only makes the check stricter
    }
    fs.writeFileSync(path.join(w, 'thirty.bin'), crypto.randomBytes(30 * 1024 * 1024));
    await commitFiles(w, {}, '30 MB');
    await gitOk(['push', '-q', 'origin', 'main'], { cwd: w });
    await sleep(1500); // include the background repack that follows
    const peak = kb(status(pid), 'VmHWM');
    const riseMiB = (peak - baseline) / 1024;
    console.log(`RSS before ${Math.round(baseline / 1024)} MiB, peak ${Math.round(peak / 1024)} MiB, rise ${riseMiB.toFixed(1)} MiB`);
    expect(riseMiB).toBeLessThanOrEqual(64);
  });
});
