// gitgate backup of a running server while pushes land, and gitgate restore into a fresh data
// directory: the restored server serves exactly the refs the backup recorded, every restored
// repository passes git fsck --full, and restore refuses a non-empty or live data directory.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commitFiles, gitOk, tmpDir } from '../helpers/git.js';
import { readBootstrapToken, runCli, runServe, stopServe, type ServeRun } from '../helpers/serve.js';

interface Manifest {
  repos: { id: string; name: string | null; head: string | null; refs: Record<string, string> }[];
  missing: string[];
  linked: number;
}

const cli = runCli;

async function cliOk(args: string[]): Promise<string> {
  const r = await cli(args);
  if (r.code !== 0) throw new Error(`gitgate ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout.trim();
}

function repoUrl(base: string, repo: string, token: string): string {
  const u = new URL(`${base}/v1/repo/${repo}.git`);
  u.username = 'token';
  u.password = token;
  return u.toString();
}

/** refs/* as served (ls-remote), peeled tag lines left out. */
async function servedRefs(url: string): Promise<Record<string, string>> {
  const out = await gitOk(['ls-remote', url]);
  const refs: Record<string, string> = {};
  for (const line of out.split('\n').filter(Boolean)) {
    const [oid, name] = line.split('\t') as [string, string];
    if (name.startsWith('refs/') && !name.endsWith('^{}')) refs[name] = oid;
  }
  return refs;
}

function listing(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true }).map(String).sort();
}

let data: string;
let run: ServeRun;
let admin: string;
const repos: string[] = [];

beforeAll(async () => {
  data = tmpDir('gitgate-backup-data-');
  run = await runServe(['--port', '0', '--data', data]);
  if (!run.url) throw new Error(`serve did not start: ${run.stderr()}`);
  admin = readBootstrapToken(data);
  for (const name of ['alpha', 'beta']) {
    const id = await cliOk(['repo', 'create', '--name', name, '--data', data]);
    repos.push(id);
    const w = path.join(tmpDir(), name);
    await gitOk(['clone', '-q', repoUrl(run.url, id, admin), w]);
    await commitFiles(w, { 'README.md': `${name}\n` }, `seed ${name}`);
    await gitOk(['tag', '-a', 'v1', '-m', 'first'], { cwd: w });
    await gitOk(['push', '-q', 'origin', 'HEAD:main', 'v1'], { cwd: w });
  }
});

afterAll(async () => {
  if (run) await stopServe(run);
});

describe('backup and restore', () => {
  let backup: string;
  let manifest: Manifest;
  let restored: string;

  it('backs up a running server while pushes land; the manifest records every repository and ref', async () => {
    let stop = false;
    let pushes = 0;
    const firstPush: Promise<void>[] = [];
    // one pusher per repository, each pushing new commits to its own branch without pause
    const pushers = repos.map((id, i) => {
      let signalFirst!: () => void;
      firstPush.push(new Promise((r) => (signalFirst = r)));
      return (async () => {
        const w = path.join(tmpDir(), `pusher-${i}`);
        await gitOk(['clone', '-q', repoUrl(run.url!, id, admin), w]);
        for (let n = 0; !stop; n++) {
          await commitFiles(w, { [`f${n}.txt`]: `${i} ${n}\n`.repeat(50) }, `push ${n}`);
          await gitOk(['push', '-q', 'origin', `HEAD:refs/heads/pusher-${i}`], { cwd: w });
          pushes++;
          signalFirst();
        }
      })();
    });
    await Promise.all(firstPush);
    backup = path.join(tmpDir('gitgate-backup-'), 'b');
    const before = pushes;
    const result = await cli(['backup', '--to', backup, '--data', data, '--json']);
    stop = true;
    await Promise.all(pushers);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(pushes).toBeGreaterThan(before);

    manifest = JSON.parse(fs.readFileSync(path.join(backup, 'backup.json'), 'utf8')) as Manifest;
    expect(JSON.parse(result.stdout)).toEqual(manifest);
    expect(manifest.missing).toEqual([]);
    expect(manifest.repos.map((r) => r.id).sort()).toEqual([...repos].sort());
    expect(manifest.linked).toBeGreaterThan(0); // same filesystem: objects were hard-linked
    for (const r of manifest.repos) {
      expect(r.head).toBe('refs/heads/main');
      expect(Object.keys(r.refs)).toEqual(expect.arrayContaining(['refs/heads/main', 'refs/tags/v1', `refs/heads/pusher-${repos.indexOf(r.id)}`]));
      await gitOk(['--git-dir', path.join(backup, `${r.id}.git`), 'fsck', '--full', '--strict']);
    }
    expect(fs.statSync(backup).mode & 0o777).toBe(0o700);
    expect(fs.statSync(path.join(backup, 'gitgate.db')).mode & 0o777).toBe(0o600);
  });

  it('leaves out in-flight writes and locks: temporary files of every kind are not copied', async () => {
    const bare = path.join(data, `${repos[0]}.git`);
    const planted = ['config.tmp-1234-k3x9', 'description.tmp-0a1b2c@node-1', 'info/exclude.tmp-99-zz', 'config.lock', 'objects/info/packs.tmp-ab12@n2', 'objects/pack/tmp_pack_x1', 'objects/pack/tmp_idx_x1'];
    fs.mkdirSync(path.join(bare, 'info'), { recursive: true });
    for (const f of planted) fs.writeFileSync(path.join(bare, f), 'half-written');
    fs.mkdirSync(path.join(bare, 'objects', 'ab'), { recursive: true });
    fs.writeFileSync(path.join(bare, 'objects', 'ab', 'tmp_obj_q1'), 'half');
    try {
      const to = path.join(tmpDir('gitgate-backup-tmp-'), 'b');
      await cliOk(['backup', '--to', to, '--data', data]);
      const copied = listing(path.join(to, `${repos[0]}.git`));
      expect(copied).toContain('config');
      expect(copied.filter((f) => /tmp|\.lock$/.test(f))).toEqual([]);
      await gitOk(['--git-dir', path.join(to, `${repos[0]}.git`), 'fsck', '--full', '--strict']);
    } finally {
      for (const f of [...planted, 'objects/ab/tmp_obj_q1']) fs.rmSync(path.join(bare, f), { force: true });
    }
  });

  it('refuses to back up into a non-empty directory', async () => {
    const before = listing(backup);
    const r = await cli(['backup', '--to', backup, '--data', data]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^gitgate: .* is not empty; back up into a new or empty directory\n$/);
    expect(listing(backup)).toEqual(before);
    const elsewhere = tmpDir('gitgate-backup-none-');
    const none = await cli(['backup', '--to', path.join(elsewhere, 'b'), '--data', path.join(elsewhere, 'typo')]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/typo is not a gitgate data directory \(no gitgate\.db\)/);
    expect(fs.readdirSync(elsewhere)).toEqual([]);
  });

  it('restores into a new directory; the restored server serves exactly the recorded refs, fsck clean', async () => {
    restored = path.join(tmpDir('gitgate-restored-'), 'data');
    const r = await cli(['restore', '--from', backup, '--data', restored]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^restored 2 repositories, \d+ refs from /);
    for (const repo of manifest.repos) await gitOk(['--git-dir', path.join(restored, `${repo.id}.git`), 'fsck', '--full', '--strict']);

    const again = await runServe(['--port', '0', '--data', restored]);
    try {
      expect(again.url).not.toBeNull();
      // the database came along: the original admin token works on the restored server
      for (const repo of manifest.repos) {
        expect(await servedRefs(repoUrl(again.url!, repo.id, admin))).toEqual(repo.refs);
        const w = path.join(tmpDir(), 'restored-clone');
        await gitOk(['clone', '-q', repoUrl(again.url!, repo.name!, admin), w]);
        expect((await gitOk(['rev-parse', 'HEAD'], { cwd: w })).trim()).toBe(repo.refs['refs/heads/main']);
        fs.rmSync(w, { recursive: true, force: true });
      }
      // a live data directory is refused, even with --force, and left alone
      const before = listing(restored);
      const live = await cli(['restore', '--from', backup, '--data', restored, '--force']);
      expect(live.code).toBe(1);
      expect(live.stderr).toMatch(/^gitgate: Data directory .* is in use by gitgate serve \(pid \d+/);
      expect(listing(restored)).toEqual(before);
    } finally {
      await stopServe(again);
    }
  });

  it('refuses a non-empty data directory unless --force, and a directory that is not a backup', async () => {
    const before = listing(restored);
    const r = await cli(['restore', '--from', backup, '--data', restored]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^gitgate: .* is not empty; restore into a new or empty directory, or pass --force/);
    expect(listing(restored)).toEqual(before);

    const notBackup = tmpDir('gitgate-not-backup-');
    const bad = await cli(['restore', '--from', notBackup, '--data', path.join(notBackup, 'x')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/is not a gitgate backup: no backup\.json/);
    expect(fs.existsSync(path.join(notBackup, 'x'))).toBe(false);

    fs.writeFileSync(path.join(restored, 'stray'), 'x');
    const forced = await cli(['restore', '--from', backup, '--data', restored, '--force']);
    expect(forced.code).toBe(0);
    expect(fs.existsSync(path.join(restored, 'stray'))).toBe(false);
    for (const repo of manifest.repos) await gitOk(['--git-dir', path.join(restored, `${repo.id}.git`), 'fsck', '--full', '--strict']);
  });
});
