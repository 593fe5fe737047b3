// Pack reuse (src/pack/pack-reuse.ts): a full clone from a bitmapped pack that also holds
// objects no ref reaches copies the wanted entries as they are stored. Some of them are deltas
// against an unreachable object (sent whole instead, or later as an ofs-delta once their own
// base went), and skipped entries between a delta and its base change its distance. The
// clone must hold exactly what C Git's rev-list --objects lists, and pass fsck --full.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { git, gitOk, tmpDir } from '../helpers/git.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let s: TestServer | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

const lines = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix} line ${i} ${'x'.repeat(i % 40)}`).join('\n') + '\n';

/** A work tree whose branch `gone` grows every file past main's versions (so main's are stored as deltas against gone's). */
async function buildLocal(): Promise<string> {
  const work = path.join(tmpDir(), 'work');
  await gitOk(['init', '-q', '-b', 'main', work]);
  const commit = async (msg: string) => {
    await gitOk(['-C', work, 'add', '-A']);
    await gitOk(['-C', work, '-c', 'user.name=T', '-c', 'user.email=t@example.com', 'commit', '-q', '-m', msg]);
  };
  for (let v = 1; v <= 6; v++) {
    for (let f = 0; f < 12; f++) fs.writeFileSync(path.join(work, `f${f}.txt`), lines(`file ${f}`, 100 + 20 * v));
    fs.writeFileSync(path.join(work, `only${v}.txt`), lines(`main ${v}`, 30));
    await commit(`main ${v}`);
    if (v === 3) await gitOk(['-C', work, 'tag', '-a', '-m', 'three', 'v3']);
  }
  await gitOk(['-C', work, 'checkout', '-q', '-b', 'gone']);
  for (let v = 7; v <= 9; v++) {
    for (let f = 0; f < 12; f++) fs.writeFileSync(path.join(work, `f${f}.txt`), lines(`file ${f}`, 100 + 60 * v));
    fs.writeFileSync(path.join(work, `gone${v}.txt`), lines(`gone ${v}`, 50));
    await commit(`gone ${v}`);
  }
  await gitOk(['-C', work, 'checkout', '-q', 'main']);
  return work;
}

/** Every object a ref reaches, sorted (C Git's answer). */
async function objectSet(gitdir: string): Promise<string[]> {
  const out = await gitOk(['--git-dir', gitdir, 'rev-list', '--objects', '--all']);
  return out.trim().split('\n').map((l) => l.slice(0, 40)).sort();
}

describe('full clone by pack reuse from a pack that holds unreachable objects', () => {
  it('sends exactly the reachable objects, deltas against skipped ones resolved', async () => {
    s = await startTestServer('fs');
    const work = await buildLocal();
    const id = await s.createRepo();
    await gitOk(['-C', work, 'push', '-q', s.gitUrl(id, s.admin), 'main', '--tags']);
    const repo = s.ctx.manager.get(id);
    await repo.maintenance.idle();

    // One pack with a bitmap, written by C Git while `gone` still existed, replaces the server's packs.
    const gitdir = path.join(work, '.git');
    await gitOk(['--git-dir', gitdir, 'repack', '-adfb', '-q', '--depth=50', '--window=50']);
    const localPacks = path.join(gitdir, 'objects', 'pack');
    const [packName] = fs.readdirSync(localPacks).filter((f) => f.endsWith('.pack'));
    const base = packName!.slice(0, -'.pack'.length);
    const serverPacks = path.join(s.ctx.manager.gitdirOf(id), 'objects', 'pack');
    for (const f of fs.readdirSync(serverPacks)) fs.rmSync(path.join(serverPacks, f));
    for (const ext of ['.pack', '.idx', '.bitmap']) fs.copyFileSync(path.join(localPacks, base + ext), path.join(serverPacks, base + ext));
    await repo.objects.rescan();
    await gitOk(['-C', work, 'branch', '-q', '-D', 'gone']);

    // The fixture does what it is for: reachable deltas whose base is unreachable, and ofs-deltas with skipped entries between.
    const reachable = new Set(await objectSet(gitdir));
    const verify = (await gitOk(['verify-pack', '-v', path.join(localPacks, base + '.idx')])).split('\n');
    const rows = verify.map((l) => l.split(/\s+/)).filter((r) => /^[0-9a-f]{40}$/.test(r[0]!));
    const unreachableBases = rows.filter((r) => r.length >= 7 && reachable.has(r[0]!) && !reachable.has(r[6]!));
    expect(unreachableBases.length).toBeGreaterThan(0);
    expect(rows.some((r) => !reachable.has(r[0]!))).toBe(true);

    const dir = path.join(tmpDir(), 'c.git');
    const r = await git(['clone', '--mirror', '--progress', s.gitUrl(id, s.admin), dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/pack-reused [1-9]/);
    expect(await objectSet(dir)).toEqual([...reachable].sort());
    await gitOk(['--git-dir', dir, 'fsck', '--full', '--no-dangling']);
    await s.fsck(id);
  });
});
