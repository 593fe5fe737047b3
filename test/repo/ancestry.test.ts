// isAncestor against histories built with real git (merges, side branches, tags).
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAncestor, peelToCommit } from '../../src/repo/ancestry.js';
import { Repository } from '../../src/repo/repository.js';
import { nodeStorage } from '../../src/repo/storage.js';
import { gitOk, tmpDir } from '../helpers/git.js';

describe('isAncestor', () => {
  let w: string;
  let repo: Repository;
  const ids: Record<string, string> = {};
  const commit = async (name: string, date: string) => {
    await gitOk(['commit', '-q', '--allow-empty', '-m', name], { cwd: w, env: { GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date } });
    ids[name] = (await gitOk(['rev-parse', 'HEAD'], { cwd: w })).trim();
  };

  beforeAll(async () => {
    w = path.join(tmpDir(), 'w');
    await gitOk(['init', '-q', '-b', 'main', w]);
    await commit('a', '2026-01-01T00:00:00Z');
    await commit('b', '2026-01-02T00:00:00Z');
    await gitOk(['checkout', '-q', '-b', 'side'], { cwd: w });
    await commit('s1', '2026-01-03T00:00:00Z');
    await gitOk(['checkout', '-q', 'main'], { cwd: w });
    await commit('c', '2026-01-04T00:00:00Z');
    await gitOk(['merge', '-q', '--no-ff', '-m', 'm', 'side'], { cwd: w, env: { GIT_AUTHOR_DATE: '2026-01-05T00:00:00Z', GIT_COMMITTER_DATE: '2026-01-05T00:00:00Z' } });
    ids.m = (await gitOk(['rev-parse', 'HEAD'], { cwd: w })).trim();
    await gitOk(['checkout', '-q', '-b', 'other', ids.a!], { cwd: w });
    await commit('o', '2026-01-06T00:00:00Z');
    await gitOk(['tag', '-a', '-m', 'tag', 'v1', ids.c!], { cwd: w });
    ids.v1 = (await gitOk(['rev-parse', 'v1'], { cwd: w })).trim();
    repo = new Repository(nodeStorage('/'), 'w', path.join(w, '.git'), { maintenance: { enabled: false } });
  });
  afterAll(async () => {
    await repo?.close();
  });

  it('answers for linear history, merges and unrelated branches', async () => {
    const s = repo.objects;
    expect(await isAncestor(s, ids.a!, ids.m!)).toBe(true);
    expect(await isAncestor(s, ids.s1!, ids.m!)).toBe(true); // through the merge's second parent
    expect(await isAncestor(s, ids.c!, ids.m!)).toBe(true);
    expect(await isAncestor(s, ids.m!, ids.m!)).toBe(true);
    expect(await isAncestor(s, ids.m!, ids.c!)).toBe(false);
    expect(await isAncestor(s, ids.s1!, ids.c!)).toBe(false);
    expect(await isAncestor(s, ids.b!, ids.o!)).toBe(false);
    expect(await isAncestor(s, ids.a!, ids.o!)).toBe(true);
    expect(await isAncestor(s, '1'.repeat(40), ids.m!)).toBe(false);
  });

  it('stops at its bound and peels tags', async () => {
    expect(await isAncestor(repo.objects, ids.a!, ids.m!, { maxCommits: 1 })).toBe(false);
    expect(await peelToCommit(repo.objects, ids.v1!)).toBe(ids.c);
    expect(await peelToCommit(repo.objects, ids.c!)).toBe(ids.c);
    expect(await peelToCommit(repo.objects, '1'.repeat(40))).toBeNull();
  });

  it('finds an ancestor below commits dated long before it (skewed clocks, imported history)', async () => {
    // x is dated 2026-01-06 but its child y claims 2020: a date cutoff would wrongly stop at y
    await gitOk(['checkout', '-q', '-b', 'skew', ids.o!], { cwd: w });
    await commit('x', '2026-01-07T00:00:00Z');
    await commit('y', '2020-01-01T00:00:00Z');
    await commit('z', '2026-01-08T00:00:00Z');
    expect(await isAncestor(repo.objects, ids.x!, ids.z!)).toBe(true);
    expect(await isAncestor(repo.objects, ids.z!, ids.x!)).toBe(false);
    expect(await isAncestor(repo.objects, ids.x!, ids.z!, { slackSeconds: 3600 })).toBe(false); // the cutoff, when asked for
  });
});
