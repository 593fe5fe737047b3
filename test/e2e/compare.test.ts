// Compare (GET /v1/repo/:id/compare/:base...:head) against C Git on the same bare repository:
// the patch text must equal `git diff -M100% base...head`, the commits `git log base..head`,
// the counts `git rev-list --count`, the merge base `git merge-base`.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binary } from '../helpers/binary.js';
import { commitFiles, gitOk, tmpDir } from '../helpers/git.js';
import { STORAGE_KINDS, startTestServer, type TestServer } from '../helpers/server.js';

/** Commit with a given committer/author date (ordering ties and non-ties both matter). */
async function commitAt(cwd: string, files: Record<string, string | Buffer | null>, message: string, date: string): Promise<string> {
  for (const [name, content] of Object.entries(files)) {
    const p = path.join(cwd, name);
    if (content === null) fs.rmSync(p, { force: true });
    else {
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, content);
    }
  }
  await gitOk(['add', '-A'], { cwd });
  const env = { GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date };
  await gitOk(['commit', '-q', '--allow-empty', '-m', message], { cwd, env });
  return (await gitOk(['rev-parse', 'HEAD'], { cwd })).trim();
}

// a change whose hunk can slide: only git's indent heuristic picks where it goes
const SLIDE_OLD = ['', '}', 'y', 'bar', 'z', '  return 0;', 'foo()', '    if (a) {', '}', '// c', '// c', 'x', 'foo()', '', '{', 'int x;', 'bar', '', '    }'];
const SLIDE_NEW = ['// c', '}', 'y', 'bar', 'z', '  return 0;', '    if (a) {', '  return 0;', 'foo()', '    if (a) {', '}', '// c', '// c', 'x', 'foo()', '', '{', 'int x;', 'bar', '', '    }'];

const FUNCS = Array.from({ length: 30 }, (_, i) => `function f${i}(x) {\n  if (x > ${i}) {\n    return x;\n  }\n  return ${i};\n}\n\n`).join('');

/** A history with every kind of change git diff distinguishes, on diverged branches, pushed to gitgate. */
async function buildHistory(cwd: string): Promise<void> {
  await gitOk(['init', '-q', '-b', 'main', cwd]);
  await commitAt(
    cwd,
    {
      'src/funcs.js': FUNCS,
      'slide.txt': `${SLIDE_OLD.join('\n')}\n`,
      'docs/readme.md': 'line 1\nline 2\nline 3\n',
      'moved.txt': 'I will move\nunchanged\n',
      'edited-move.txt': 'a\nb\nc\nd\ne\nf\n',
      'gone.txt': 'bye\n',
      'bin.dat': Buffer.from([0, 1, 2, 3, 255, 0, 10]),
      'script.sh': 'echo hi\n',
      'no-eol.txt': 'last line without newline',
      'with space.txt': 'spaces\n',
      'typechange': 'a file first\n',
    },
    'initial',
    '2026-01-01T00:00:00Z',
  );
  await gitOk(['checkout', '-q', '-b', 'feature'], { cwd });
  const edited = FUNCS.replace('return 7;', 'return 700;').replace('if (x > 20) {', 'if (x >= 20) {\n    log(x);').replace('function f29(x) {\n', '');
  await commitAt(cwd, { 'src/funcs.js': edited, 'slide.txt': `${SLIDE_NEW.join('\n')}\n`, 'no-eol.txt': 'last line without newline, edited' }, 'edit functions', '2026-01-02T00:00:00Z');
  fs.mkdirSync(path.join(cwd, 'lib'), { recursive: true });
  fs.renameSync(path.join(cwd, 'moved.txt'), path.join(cwd, 'lib/moved.txt'));
  fs.renameSync(path.join(cwd, 'edited-move.txt'), path.join(cwd, 'lib/edited.txt'));
  fs.appendFileSync(path.join(cwd, 'lib/edited.txt'), 'g\n');
  fs.chmodSync(path.join(cwd, 'script.sh'), 0o755);
  fs.rmSync(path.join(cwd, 'typechange'));
  fs.symlinkSync('docs/readme.md', path.join(cwd, 'typechange'));
  fs.symlinkSync('src/funcs.js', path.join(cwd, 'link'));
  await commitAt(
    cwd,
    { 'gone.txt': null, 'bin.dat': Buffer.from([0, 1, 2, 3, 254, 0, 10, 11]), 'empty.txt': '', 'caf\u00e9.txt': 'accent\n', 'with space.txt': 'spaces!\n' },
    'moves, modes, binaries, names',
    '2026-01-02T00:00:00Z', // same second as the previous commit: git log keeps insertion order
  );
  // main moves on meanwhile: diverged histories
  await gitOk(['checkout', '-q', 'main'], { cwd });
  await commitAt(cwd, { 'docs/readme.md': 'line 1\nline two\nline 3\n' }, 'main: docs', '2026-01-03T00:00:00Z');
  // older than its parent (clock skew), and the same second as feature's tip: the merge below
  // queues both, and git log keeps the order they were queued in
  await commitAt(cwd, { 'main-only.txt': 'm\n' }, 'main: new file', '2026-01-02T00:00:00Z');
  // a merge of main into a branch off feature
  await gitOk(['checkout', '-q', '-b', 'merged', 'feature'], { cwd });
  await gitOk(['merge', '-q', '--no-edit', 'main'], { cwd, env: { GIT_COMMITTER_DATE: '2026-01-04T00:00:00Z', GIT_AUTHOR_DATE: '2026-01-04T00:00:00Z' } });
  await commitAt(cwd, { 'after-merge.txt': 'x\n' }, 'after merge', '2026-01-04T00:00:00Z');
  await gitOk(['tag', '-a', 'v1', '-m', 'release 1', 'feature'], { cwd });
  await gitOk(['tag', 'light', 'main~1'], { cwd });
  // a new repository's only commit and an agent's quick branch off it, all in one second (a walk
  // that stops once every queued commit is excluded would list the root as behind)
  await gitOk(['checkout', '-q', '--orphan', 'solo'], { cwd });
  await gitOk(['rm', '-rqf', '.'], { cwd });
  await commitAt(cwd, { 'solo.txt': 's\n' }, 'solo root', '2026-01-06T00:00:00Z');
  await gitOk(['checkout', '-q', '-b', 'quick'], { cwd });
  await commitAt(cwd, { 'quick.txt': 'q1\n' }, 'quick 1', '2026-01-06T00:00:00Z');
  await commitAt(cwd, { 'quick.txt': 'q2\n' }, 'quick 2', '2026-01-06T00:00:00Z');
  // an unrelated root
  await gitOk(['checkout', '-q', '--orphan', 'orphan'], { cwd });
  await gitOk(['rm', '-rqf', '.'], { cwd });
  await commitAt(cwd, { 'other.txt': 'other\n' }, 'unrelated', '2026-01-05T00:00:00Z');
}

describe.each(STORAGE_KINDS)('compare (%s storage)', (kind) => {
  let s: TestServer;
  let id: string;
  let bare: string;
  beforeAll(async () => {
    s = await startTestServer(kind);
    id = await s.createRepo();
    const w = path.join(tmpDir(), 'w');
    await buildHistory(w);
    await gitOk(['push', '-q', s.gitUrl(id, s.admin), '--all'], { cwd: w });
    await gitOk(['push', '-q', s.gitUrl(id, s.admin), '--tags'], { cwd: w });
    bare = await s.bareRepo(id);
  }, 60_000);
  afterAll(async () => {
    await s.close();
  });

  const auth = () => ({ Authorization: `Bearer ${s.admin}` });
  const gitIn = (args: string[]) => gitOk(['--git-dir', bare, ...args]);

  async function patchText(spec: string, query = 'format=patch'): Promise<{ status: number; text: string }> {
    const res = await s.api.get(`/v1/repo/${id}/compare/${spec}?${query}`).set(auth()).buffer(true).parse(binary);
    return { status: res.status, text: (res.body as Buffer).toString('latin1') };
  }

  const PAIRS: [string, string][] = [
    ['main', 'feature'],
    ['feature', 'main'],
    ['main', 'merged'],
    ['light', 'v1'],
    ['feature~1', 'feature'],
    ['merged', 'feature'],
    ['main', 'main'],
    ['feature~2', 'merged'],
    ['refs/heads/main', 'refs/tags/v1'],
    ['solo', 'quick'],
    ['quick', 'solo'],
  ];

  it.each(PAIRS)('%s...%s: the patch is byte for byte what git diff -M100% prints, paths as --name-only', async (base, head) => {
    const spec = `${await resolve(base)}...${head.includes('~') ? await resolve(head) : head}`;
    const expected = await gitOk(['--git-dir', bare, '-c', 'core.abbrev=7', 'diff', '-M100%', `${base}...${head}`]).then((o) => Buffer.from(o).toString('latin1'));
    const got = await patchText(spec);
    expect(got.status).toBe(200);
    expect(got.text).toBe(expected);
    const names = await gitIn(['diff', '-M100%', '--name-only', `${base}...${head}`]);
    expect((await patchText(spec, 'format=patch&name_only=true')).text).toBe(Buffer.from(names).toString('latin1'));
  });

  async function resolve(rev: string): Promise<string> {
    // ~ is not a ref name: the API takes the id, as an agent that read it from git would send
    return rev.includes('~') ? (await gitIn(['rev-parse', rev])).trim() : rev;
  }

  it.each(PAIRS)('%s...%s: JSON counts, commits, merge base and files agree with git', async (base, head) => {
    const res = await s.api.get(`/v1/repo/${id}/compare/${await resolve(base)}...${await resolve(head)}`).set(auth());
    expect(res.status).toBe(200);
    const lines = async (args: string[]) => (await gitIn(args)).split('\n').filter(Boolean);
    const ahead = Number((await gitIn(['rev-list', '--count', `${base}..${head}`])).trim());
    const behind = Number((await gitIn(['rev-list', '--count', `${head}..${base}`])).trim());
    expect(res.body.ahead_by).toBe(ahead);
    expect(res.body.behind_by).toBe(behind);
    expect(res.body.total_commits).toBe(ahead);
    expect(res.body.status).toBe(ahead && behind ? 'diverged' : ahead ? 'ahead' : behind ? 'behind' : 'identical');
    expect(res.body.commits.map((c: { sha: string }) => c.sha)).toEqual(await lines(['log', '--reverse', '--format=%H', `${base}..${head}`]));
    expect(res.body.merge_base_commit.sha).toBe((await gitIn(['merge-base', base, head])).trim());
    expect(res.body.base_commit.sha).toBe((await gitIn(['rev-parse', `${base}^{commit}`])).trim());

    // files: names and statuses as --name-status, counts as --numstat, hunks as the patch's
    const status = await lines(['diff', '-M100%', '--name-status', `${base}...${head}`]);
    const want = status.map((l) => {
      const [st, a, b] = l.split('\t');
      const map: Record<string, string> = { A: 'added', D: 'removed', M: 'modified', R100: 'renamed', T: 'changed' };
      return { status: map[st!], filename: unquote(b ?? a!), ...(b ? { previous_filename: unquote(a!) } : {}) };
    });
    const files = res.body.files as { filename: string; status: string; previous_filename?: string; additions: number; deletions: number; changes: number; patch?: string }[];
    expect(files.map((f) => ({ status: f.status, filename: f.filename, ...(f.previous_filename ? { previous_filename: f.previous_filename } : {}) }))).toEqual(want);
    const numstat = await lines(['diff', '-M100%', '--numstat', `${base}...${head}`]);
    expect(files.map((f) => `${f.additions}\t${f.deletions}`)).toEqual(numstat.map((l) => l.split('\t').slice(0, 2).join('\t').replace('-\t-', '0\t0')));
    for (const f of files) expect(f.changes).toBe(f.additions + f.deletions);
    const full = Buffer.from(await gitIn(['diff', '-M100%', `${base}...${head}`])).toString('utf8');
    // a type change prints as two sections (deletion, creation); its JSON patch is the content diff
    const sections = full.split(/^(?=diff --git )/m).filter(Boolean);
    expect(sections.length).toBe(files.length + files.filter((f) => f.status === 'changed').length);
    let at = 0;
    for (const f of files) {
      const section = sections[at]!;
      at += f.status === 'changed' ? 2 : 1;
      if (f.status === 'changed') continue;
      const hunks = section.includes('\n@@ ') ? section.slice(section.indexOf('\n@@ ') + 1) : undefined;
      expect(f.patch).toBe(hunks);
    }
  });

  it('the feature branch shows every kind of change (the oracle compares something non-trivial)', async () => {
    const res = await s.api.get(`/v1/repo/${id}/compare/main...feature`).set(auth());
    const byName = Object.fromEntries((res.body.files as { filename: string; status: string }[]).map((f) => [f.filename, f.status]));
    expect(byName).toMatchObject({ 'lib/moved.txt': 'renamed', 'lib/edited.txt': 'added', 'edited-move.txt': 'removed', 'gone.txt': 'removed', 'script.sh': 'modified', 'caf\u00e9.txt': 'added', 'empty.txt': 'added', 'bin.dat': 'modified', link: 'added', typechange: 'changed' });
    const text = (await patchText('main...feature')).text;
    for (const piece of ['Binary files a/bin.dat and b/bin.dat differ', 'old mode 100644', 'similarity index 100%', '\\ No newline at end of file', '"b/caf\\303\\251.txt"', '@@ -51,7 +51,7 @@ function f7(x) {', 'deleted file mode 100644\nindex']) {
      expect(text).toContain(piece);
    }
  });

  it('refuses what git would refuse: unrelated histories, unknown names, a spec without three dots, out-of-scope tokens', async () => {
    const orphan = await s.api.get(`/v1/repo/${id}/compare/main...orphan`).set(auth());
    expect(orphan.status).toBe(404);
    expect(orphan.body.error.code).toBe('NO_MERGE_BASE');
    const unknown = await s.api.get(`/v1/repo/${id}/compare/main...nope`).set(auth());
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('COMMIT_NOT_FOUND');
    const twoDots = await s.api.get(`/v1/repo/${id}/compare/main..feature`).set(auth());
    expect(twoDots.status).toBe(400);
    expect(twoDots.body.error.message).toContain('three dots');
    const badName = await s.api.get(`/v1/repo/${id}/compare/main...a..b`).set(auth());
    expect(badName.status).toBe(400);
    const other = await s.createRepo();
    const { token } = await s.mint({ repo_ids: [other], permission: 'read', name: 'elsewhere' });
    const hidden = await s.api.get(`/v1/repo/${id}/compare/main...feature`).set({ Authorization: `Bearer ${token}` });
    expect(hidden.status).toBe(404);
    expect(hidden.body.error.code).toBe('REPO_NOT_FOUND');
  });

  it('agent branch names with slashes work on both sides', async () => {
    const w = path.join(tmpDir(), 'w2');
    await gitOk(['clone', '-q', s.gitUrl(id, s.admin), w]);
    await commitFiles(w, { 'agent.txt': 'agent work\n' }, 'agent commit');
    await gitOk(['push', '-q', 'origin', 'HEAD:refs/heads/agent/task-1'], { cwd: w });
    bare = await s.bareRepo(id);
    const res = await s.api.get(`/v1/repo/${id}/compare/main...agent/task-1`).set(auth());
    expect(res.status).toBe(200);
    expect(res.body.ahead_by).toBe(1);
    expect(res.body.files).toEqual([{ filename: 'agent.txt', status: 'added', additions: 1, deletions: 0, changes: 1, patch: '@@ -0,0 +1 @@\n+agent work\n' }]);
  });
});

/** git's C-quoted path ("caf\303\251.txt") back to the string. */
function unquote(p: string): string {
  if (!p.startsWith('"')) return p;
  const bytes: number[] = [];
  const body = p.slice(1, -1);
  for (let i = 0; i < body.length; i++) {
    if (body[i] === '\\' && /[0-7]/.test(body[i + 1]!)) {
      bytes.push(parseInt(body.slice(i + 1, i + 4), 8));
      i += 3;
    } else if (body[i] === '\\') {
      bytes.push(body.charCodeAt(++i));
    } else bytes.push(body.charCodeAt(i));
  }
  return Buffer.from(bytes).toString('utf8');
}
