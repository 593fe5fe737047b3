// The reachability walk behind the want check and prune, against `git rev-list --objects` on a
// repository C Git built: the same object set, early stop once the targets are found, and a
// walk that goes on to the end when asked to (so it can be remembered).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { walkReachable } from '../../src/repo/reach-objects.js';
import { Repository } from '../../src/repo/repository.js';
import { nodeStorage } from '../../src/repo/storage.js';
import { commitFiles, gitOk, tmpDir } from '../helpers/git.js';

describe('walkReachable', () => {
  let root: string;
  let repo: Repository;
  let tip: string;
  let all: string[];
  let tipBlob: string;
  let oldBlob: string;
  let stray: string;

  beforeAll(async () => {
    root = tmpDir('gitgate-reach-');
    const w = path.join(root, 'w');
    await gitOk(['init', '-q', '-b', 'main', w]);
    for (let i = 0; i < 5; i++) await commitFiles(w, { [`d${i % 2}/f${i}.txt`]: `${i}\n`, 'top.txt': `v${i}\n` }, `c${i}`);
    await gitOk(['tag', '-a', '-m', 't', 'v1', 'HEAD~2'], { cwd: w });
    tip = (await gitOk(['rev-parse', 'HEAD'], { cwd: w })).trim();
    tipBlob = (await gitOk(['rev-parse', 'HEAD:top.txt'], { cwd: w })).trim();
    oldBlob = (await gitOk(['rev-parse', 'HEAD~4:top.txt'], { cwd: w })).trim();
    stray = (await gitOk(['hash-object', '-w', '--stdin'], { cwd: w, input: 'nobody reaches me\n' })).trim();
    all = (await gitOk(['rev-list', '--objects', '--all'], { cwd: w })).trim().split('\n').map((l) => l.slice(0, 40)).sort();
    repo = new Repository(nodeStorage('/'), 'w', path.join(w, '.git'), { maintenance: { enabled: false } });
  });
  afterAll(async () => {
    await repo.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  const tips = async () => [tip, (await gitOk(['rev-parse', 'v1'], { cwd: path.join(root, 'w') })).trim()];

  it('sees exactly what git rev-list --objects --all sees', async () => {
    const { seen, unreached } = await walkReachable(repo.objects, await tips(), { targets: [stray] });
    expect(unreached).toEqual([stray]);
    expect(all.filter((o) => !seen.hasHex(o))).toEqual([]);
    expect(seen.size).toBe(all.length);
  });

  it('stops once every target is found, and goes on to the end when told to', async () => {
    const early = await walkReachable(repo.objects, await tips(), { targets: [tipBlob] });
    expect(early.unreached).toEqual([]);
    expect(early.seen.size).toBeLessThan(all.length / 2);
    const deep = await walkReachable(repo.objects, await tips(), { targets: [oldBlob] });
    expect(deep.unreached).toEqual([]);
    const exhaustive = await walkReachable(repo.objects, await tips(), { targets: [tipBlob], exhaustAfter: 1 });
    expect(exhaustive.seen.size).toBe(all.length);
  });

  it('walks commits and tags only when asked', async () => {
    const { seen } = await walkReachable(repo.objects, await tips(), { commitsOnly: true });
    expect(seen.hasHex(tip)).toBe(true);
    expect(seen.hasHex(tipBlob)).toBe(false);
    expect(seen.size).toBe(6); // five commits and the tag object
  });
});
