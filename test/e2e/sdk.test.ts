// The official Relace SDK against a real gitgate: every content call, token calls, errors.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';
import path from 'node:path';
import Relace from '@relace-ai/relace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binary } from '../helpers/binary.js';
import { git, gitOk, tmpDir } from '../helpers/git.js';
import { STORAGE_KINDS, startTestServer, type TestServer } from '../helpers/server.js';

/** Files of a work tree (without .git), as a sorted map path -> content. */
function workTreeFiles(dir: string, base = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of fs.readdirSync(path.join(dir, base)).sort()) {
    if (!base && name === '.git') continue;
    const rel = base ? `${base}/${name}` : name;
    if (fs.statSync(path.join(dir, rel)).isDirectory()) Object.assign(out, workTreeFiles(dir, rel));
    else out[rel] = fs.readFileSync(path.join(dir, rel), 'utf8');
  }
  return out;
}

const execFileAsync = promisify(execFile);

const asMap = (files: { filename: string; content: string }[]) => Object.fromEntries(files.map((f) => [f.filename, f.content]));

describe.each(STORAGE_KINDS)('Relace SDK (%s storage)', (kind) => {
  let s: TestServer;
  let client: Relace;
  beforeAll(async () => {
    s = await startTestServer(kind);
    client = new Relace({ apiKey: s.admin, baseURL: `${s.url}/v1`, maxRetries: 0 });
  });
  afterAll(async () => {
    await s.close();
  });

  /** git clone --depth 1 (what agents do) with a fresh repo token; returns the work tree's files. */
  async function gitCloneFiles(repoId: string): Promise<Record<string, string>> {
    const { token } = await client.repoToken.create({ name: 'clone', repo_ids: [repoId] });
    const dir = path.join(tmpDir(), 'wt');
    await gitOk(['clone', '-q', '--depth', '1', s.gitUrl(repoId, token), dir]);
    return workTreeFiles(dir);
  }

  it('creates from files, updates with a snapshot and a diff, and clones the same files as git', async () => {
    const created = await client.repo.create({
      source: { type: 'files', files: [{ filename: 'README.md', content: '# hi\n' }, { filename: 'src/a.ts', content: 'export const a = 1;\n' }] },
      metadata: { team: 'sdk' },
    });
    expect(created.repo_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.repo_head).toMatch(/^[0-9a-f]{40}$/);

    expect((await client.repo.get(created.repo_id)).updated_at).toBe(null);
    const snap = await client.repo.update(created.repo_id, {
      source: { type: 'files', files: [{ filename: 'README.md', content: '# hi\n' }, { filename: 'src/b.ts', content: 'export const b = 2;\n' }] },
    });
    expect(snap.repo_head).not.toBe(created.repo_head);
    expect(snap.changed_files).toEqual(['src/a.ts', 'src/b.ts']);
    expect((await client.repo.get(created.repo_id)).updated_at).not.toBe(null); // touched on change
    expect(asMap((await client.repo.clone(created.repo_id)).files)).toEqual({ 'README.md': '# hi\n', 'src/b.ts': 'export const b = 2;\n' });

    const diff = await client.repo.update(created.repo_id, {
      source: {
        type: 'diff',
        operations: [
          { type: 'write', filename: 'src/c.ts', content: 'c\n' },
          { type: 'delete', filename: 'README.md' },
          { type: 'rename', old_filename: 'src/b.ts', new_filename: 'lib/b.ts' },
        ],
      },
    });
    expect(diff.changed_files).toEqual(['README.md', 'lib/b.ts', 'src/b.ts', 'src/c.ts']);
    const cloned = asMap((await client.repo.clone(created.repo_id)).files);
    expect(cloned).toEqual({ 'lib/b.ts': 'export const b = 2;\n', 'src/c.ts': 'c\n' });

    // exactly one commit per call, by the configured author, saying what changed
    const bare = await s.bareRepo(created.repo_id);
    expect((await gitOk(['--git-dir', bare, 'rev-list', '--count', 'HEAD'])).trim()).toBe('3');
    const log = await gitOk(['--git-dir', bare, 'log', '-1', '--format=%an <%ae>%n%B', 'HEAD']);
    expect(log).toContain('gitgate <gitgate@localhost>');
    expect(log).toContain('Update 3 files: delete README.md, write src/c.ts, rename src/b.ts -> lib/b.ts');

    // the old commit is still readable through ?commit=
    expect(asMap((await client.repo.clone(created.repo_id, { commit: created.repo_head })).files)).toEqual({
      'README.md': '# hi\n',
      'src/a.ts': 'export const a = 1;\n',
    });

    expect(await gitCloneFiles(created.repo_id)).toEqual(cloned);
    await s.fsck(created.repo_id);
  });

  it('reports a missing path in a diff as NotFoundError and changes nothing', async () => {
    const { repo_id, repo_head } = await client.repo.create({ source: { type: 'files', files: [{ filename: 'a.txt', content: 'a' }] } });
    for (const op of [
      { type: 'delete' as const, filename: 'nope.txt' },
      { type: 'rename' as const, old_filename: 'nope.txt', new_filename: 'b.txt' },
    ]) {
      const err = await client.repo
        .update(repo_id, { source: { type: 'diff', operations: [{ type: 'write', filename: 'new.txt', content: 'x' }, op] } })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Relace.NotFoundError);
      expect((err as InstanceType<typeof Relace.NotFoundError>).error).toMatchObject({ error: { code: 'FILE_NOT_FOUND' } });
    }
    const meta = await client.repo.update(repo_id, {});
    expect(meta.repo_head).toBe(repo_head);
    expect(asMap((await client.repo.clone(repo_id)).files)).toEqual({ 'a.txt': 'a' });
  });

  it('a no-op update makes no commit', async () => {
    const { repo_id, repo_head } = await client.repo.create({ source: { type: 'files', files: [{ filename: 'a.txt', content: 'a' }] } });
    const same = await client.repo.update(repo_id, { source: { type: 'files', files: [{ filename: 'a.txt', content: 'a' }] } });
    expect(same).toEqual({ repo_id, branch: 'main', repo_head, changed_files: [] });
    const sameDiff = await client.repo.update(repo_id, { source: { type: 'diff', operations: [{ type: 'write', filename: 'a.txt', content: 'a' }] } });
    expect(sameDiff).toEqual({ repo_id, branch: 'main', repo_head, changed_files: [] });
    const bare = await s.bareRepo(repo_id);
    expect((await gitOk(['--git-dir', bare, 'rev-list', '--count', 'HEAD'])).trim()).toBe('1');
  });

  it('updates metadata through update', async () => {
    const { repo_id } = await client.repo.create({ metadata: { a: '1' } });
    await client.repo.update(repo_id, { metadata: { a: '2', b: 'x' } });
    expect((await client.repo.get(repo_id)).metadata).toEqual({ a: '2', b: 'x' });
  });

  it('reads, writes and deletes single files with client.repo.file', async () => {
    const { repo_id } = await client.repo.create({ source: { type: 'files', files: [{ filename: 'src/a.ts', content: 'const a = 1;\n' }] } });
    expect(await client.repo.file.download('src/a.ts', { repo_id })).toBe('const a = 1;\n');

    const up = await client.repo.file.upload('src/deep/new.json', '{"x": 1}\n', { repo_id });
    expect(up.repo_id).toBe(repo_id);
    expect(up.changed_files).toEqual(['src/deep/new.json']);
    expect(await client.repo.file.download('src/deep/new.json', { repo_id })).toBe('{"x": 1}\n');

    const bytes = Buffer.from([0, 1, 2, 255, 10]);
    await client.repo.file.upload('bin/blob.dat', bytes, { repo_id });
    const raw = await s.api.get(`/v1/repo/${repo_id}/file/bin/blob.dat`).set('Authorization', `Bearer ${s.admin}`).buffer(true).parse(binary);
    expect(raw.status).toBe(200);
    expect(raw.headers['content-type']).toBe('application/octet-stream');
    expect(Buffer.compare(raw.body as Buffer, bytes)).toBe(0);
    // binary files are skipped by clone
    expect((await client.repo.clone(repo_id)).files.map((f) => f.filename)).toEqual(['src/a.ts', 'src/deep/new.json']);

    const del = await client.repo.file.delete('src/a.ts', { repo_id });
    expect(del.changed_files).toEqual(['src/a.ts']);
    const missing = await client.repo.file.download('src/a.ts', { repo_id }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(Relace.NotFoundError);
    const delAgain = await client.repo.file.delete('src/a.ts', { repo_id }).catch((e: unknown) => e);
    expect(delAgain).toBeInstanceOf(Relace.NotFoundError);

    const bare = await s.bareRepo(repo_id);
    expect((await gitOk(['--git-dir', bare, 'log', '--format=%s', 'HEAD'])).trim().split('\n')).toEqual([
      'Update 1 file: delete src/a.ts',
      'Update 1 file: add bin/blob.dat',
      'Update 1 file: add src/deep/new.json',
      'Initial commit: add 1 file',
    ]);
    await s.fsck(repo_id);
  });

  it('retrieves relevant files', async () => {
    const { repo_id, repo_head } = await client.repo.create({
      source: {
        type: 'files',
        files: [
          { filename: 'src/auth/tokenService.ts', content: 'export class TokenService {\n  verifyToken(secret: string) { return checkSecret(secret); }\n}\n' },
          { filename: 'src/db/users.ts', content: 'export function loadUsers() { return db.query("select * from users"); }\n' },
          { filename: 'README.md', content: 'A project about databases and users.\n' },
        ],
      },
    });
    const r = await client.repo.retrieve(repo_id, { query: 'verify token', include_content: true });
    expect(r.hash).toBe(repo_head);
    expect(r.pending_embeddings).toBe(0);
    expect(r.results[0]).toMatchObject({ filename: 'src/auth/tokenService.ts', score: 1 });
    expect(r.results[0]!.content).toContain('verifyToken');
    expect(r.results.map((x) => x.filename)).not.toContain('src/db/users.ts');
    const noContent = await client.repo.retrieve(repo_id, { query: 'users' });
    expect(noContent.results.map((x) => x.filename)).toContain('src/db/users.ts');
    expect(noContent.results.every((x) => x.content === undefined)).toBe(true);
  });

  it('mints and deletes repo tokens', async () => {
    const { repo_id } = await client.repo.create({ source: { type: 'files', files: [{ filename: 'a.txt', content: 'a\n' }] } });
    const t = await client.repoToken.create({ name: 'agent', repo_ids: [repo_id] });
    expect(t).toMatchObject({ name: 'agent', repo_ids: [repo_id], token: expect.stringMatching(/^ggr_/) });
    const asAgent = new Relace({ apiKey: t.token, baseURL: `${s.url}/v1`, maxRetries: 0 });
    expect((await asAgent.repo.clone(repo_id)).files).toEqual([{ filename: 'a.txt', content: 'a\n' }]);
    expect(await client.repoToken.get(t.token)).toMatchObject({ name: 'agent', repo_ids: [repo_id] });
    await client.repoToken.delete(t.token);
    const after = await asAgent.repo.clone(repo_id).catch((e: unknown) => e);
    expect(after).toBeInstanceOf(Relace.AuthenticationError);
    const cloneDir = path.join(tmpDir(), 'wt');
    const r = await git(['clone', '-q', s.gitUrl(repo_id, t.token), cloneDir]);
    expect(r.code).not.toBe(0);
  });

  it('surfaces SDK errors for a missing repository', async () => {
    const missing = '00000000-0000-4000-8000-000000000000';
    for (const call of [
      () => client.repo.get(missing),
      () => client.repo.clone(missing),
      () => client.repo.update(missing, { source: { type: 'files', files: [] } }),
      () => client.repo.retrieve(missing, { query: 'x' }),
      () => client.repo.file.download('a.txt', { repo_id: missing }),
      () => client.repo.file.upload('a.txt', 'x', { repo_id: missing }),
      () => client.repo.file.delete('a.txt', { repo_id: missing }),
      () => client.repo.delete(missing),
    ]) {
      const err = await call().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Relace.NotFoundError);
      expect((err as InstanceType<typeof Relace.NotFoundError>).error).toMatchObject({ error: { code: 'REPO_NOT_FOUND' } });
    }
  });
});

/** Every method of every resource the SDK client exposes ("repo.create", "repo.file.upload", …),
 *  found by walking the client, so a method a later SDK version adds cannot go untested. */
function sdkMethods(client: Relace): string[] {
  const out: string[] = [];
  const visit = (resource: object, prefix: string) => {
    const proto = Object.getPrototypeOf(resource) as object;
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (name !== 'constructor' && !name.startsWith('_') && typeof (proto as Record<string, unknown>)[name] === 'function') out.push(`${prefix}${name}`);
    }
    for (const [key, value] of Object.entries(resource)) {
      if (!key.startsWith('_') && value && typeof value === 'object' && (value as { _client?: unknown })._client === client) visit(value, `${prefix}${key}.`);
    }
  };
  for (const [key, value] of Object.entries(client)) {
    if (!key.startsWith('_') && value && typeof value === 'object' && (value as { _client?: unknown })._client === client) visit(value, `${key}.`);
  }
  return out.sort();
}

describe.each(STORAGE_KINDS)('every method of the Relace SDK (%s storage)', (kind) => {
  let s: TestServer;
  let client: Relace;
  let repoId: string;
  let head: string;
  beforeAll(async () => {
    s = await startTestServer(kind);
    client = new Relace({ apiKey: s.admin, baseURL: `${s.url}/v1`, maxRetries: 0 });
    const created = await client.repo.create({
      source: { type: 'files', files: [{ filename: 'src/pool.ts', content: 'export function createPool() {}\n' }, { filename: 'README.md', content: '# pool\n' }] },
      metadata: { purpose: 'every-method' },
    });
    repoId = created.repo_id;
    head = created.repo_head!;
  });
  afterAll(async () => {
    await s.close();
  });

  const readStream = async (stream: AsyncIterable<unknown>) => {
    const got: { event?: string | null; data: any }[] = [];
    for await (const ev of stream) got.push(ev as { event?: string | null; data: any });
    return got;
  };

  /** One check per SDK method; the key set must equal what the SDK has. */
  const checks: Record<string, () => Promise<void>> = {
    'repo.create': async () => {
      const fork = await client.repo.create({ source: { type: 'relace', repo_id: repoId, copy_metadata: true } });
      expect(fork.repo_head).toBe(head);
      expect((await client.repo.get(fork.repo_id)).metadata).toEqual({ purpose: 'every-method' });
      const empty = await client.repo.create({});
      expect(empty.repo_head).toBe(null);
    },
    'repo.list': async () => {
      const all = await client.repo.list({ page_size: 1000 });
      expect(all.items.map((r) => r.repo_id)).toContain(repoId);
      const page = await client.repo.list({ page_size: 1, filter_metadata: JSON.stringify({ purpose: 'every-method' }) } as never);
      expect(page.items).toHaveLength(1);
      const { token } = await client.repoToken.create({ name: 'lister', repo_ids: [repoId] });
      const asRepoToken = new Relace({ apiKey: token, baseURL: `${s.url}/v1`, maxRetries: 0 });
      expect((await asRepoToken.repo.list()).items.map((r) => r.repo_id)).toEqual([repoId]);
    },
    'repo.get': async () => {
      expect(await client.repo.get(repoId)).toMatchObject({ repo_id: repoId, metadata: { purpose: 'every-method' } });
    },
    'repo.update': async () => {
      const { repo_id } = await client.repo.create({ source: { type: 'files', files: [{ filename: 'a.txt', content: 'a\n' }] } });
      const r = await client.repo.update(repo_id, { source: { type: 'diff', operations: [{ type: 'write', filename: 'b.txt', content: 'b\n' }] } });
      expect(r.changed_files).toEqual(['b.txt']);
      expect(await client.repo.file.download('b.txt', { repo_id })).toBe('b\n');
      await s.fsck(repo_id);
    },
    'repo.clone': async () => {
      expect((await client.repo.clone(repoId)).files.map((f) => f.filename)).toEqual(['README.md', 'src/pool.ts']);
      expect((await client.repo.clone(repoId, { commit: head })).files).toHaveLength(2);
    },
    'repo.retrieve': async () => {
      const r = await client.repo.retrieve(repoId, { query: 'create pool', include_content: true });
      expect(r.hash).toBe(head);
      expect(r.results[0]).toMatchObject({ filename: 'src/pool.ts', content: 'export function createPool() {}\n' });
    },
    'repo.search': async () => {
      const got = await readStream(await client.repo.search(repoId, { query: 'createPool' }));
      expect(got.map((e) => e.event)).toEqual(['result', 'result', 'done']); // the exact match, then README.md sharing the term "pool"
      expect(got[0]!.data).toMatchObject({ filename: 'src/pool.ts', matches: [{ line_number: 1, line: 'export function createPool() {}' }] });
    },
    'repo.agent': async () => {
      const got = await readStream(await client.repo.agent(repoId, { agent_name: 'relace-search', agent_inputs: { query: 'pool', path_glob: '*.md' } }));
      expect(got).toEqual([
        { event: 'result', data: expect.objectContaining({ filename: 'README.md' }) },
        { event: 'done', data: { hash: head, total: 1, truncated: false } },
      ]);
    },
    'repo.embeddingStatus': async () => {
      expect(await client.repo.embeddingStatus(repoId)).toEqual({ completed_embeddings: 2, pending_embeddings: 0, hash: head });
    },
    'repo.delete': async () => {
      const { repo_id } = await client.repo.create({ source: { type: 'files', files: [{ filename: 'x', content: 'x' }] } });
      const { token } = await client.repoToken.create({ name: 'doomed', repo_ids: [repo_id] });
      await client.repo.delete(repo_id);
      expect(await client.repo.get(repo_id).catch((e: unknown) => e)).toBeInstanceOf(Relace.NotFoundError);
      expect((await git(['ls-remote', s.gitUrl(repo_id, token)])).code).not.toBe(0);
    },
    'repo.file.upload': async () => {
      const { repo_id } = await client.repo.create({});
      const r = await client.repo.file.upload('dir/new.txt', 'new\n', { repo_id });
      expect(r.changed_files).toEqual(['dir/new.txt']);
      await s.fsck(repo_id);
    },
    'repo.file.download': async () => {
      expect(await client.repo.file.download('src/pool.ts', { repo_id: repoId })).toBe('export function createPool() {}\n');
    },
    'repo.file.delete': async () => {
      const { repo_id } = await client.repo.create({ source: { type: 'files', files: [{ filename: 'a.txt', content: 'a' }, { filename: 'b.txt', content: 'b' }] } });
      expect((await client.repo.file.delete('a.txt', { repo_id })).changed_files).toEqual(['a.txt']);
      expect((await client.repo.clone(repo_id)).files.map((f) => f.filename)).toEqual(['b.txt']);
      await s.fsck(repo_id);
    },
    'repoToken.create': async () => {
      const t = await client.repoToken.create({ name: 'reader', repo_ids: [repoId], permission: 'read', ttl_seconds: 600 } as never);
      expect(t).toMatchObject({ name: 'reader', repo_ids: [repoId], token: expect.stringMatching(/^ggr_/) });
      const reader = new Relace({ apiKey: t.token, baseURL: `${s.url}/v1`, maxRetries: 0 });
      expect((await reader.repo.file.upload('no.txt', 'no', { repo_id: repoId }).catch((e: unknown) => e))).toBeInstanceOf(Relace.PermissionDeniedError);
    },
    'repoToken.get': async () => {
      const t = await client.repoToken.create({ name: 'looked-up', repo_ids: [repoId] });
      const got = await client.repoToken.get(t.token);
      expect(got).toMatchObject({ name: 'looked-up', repo_ids: [repoId] });
      expect(JSON.stringify(got)).not.toContain(t.token);
    },
    'repoToken.delete': async () => {
      const t = await client.repoToken.create({ name: 'revoked', repo_ids: [repoId] });
      await client.repoToken.delete(t.token);
      const revoked = new Relace({ apiKey: t.token, baseURL: `${s.url}/v1`, maxRetries: 0 });
      expect(await revoked.repo.get(repoId).catch((e: unknown) => e)).toBeInstanceOf(Relace.AuthenticationError);
    },
  };

  it('the checks below cover exactly the methods the SDK has', () => {
    expect(Object.keys(checks).sort()).toEqual(sdkMethods(client));
  });

  for (const [method, check] of Object.entries(checks)) it(method, check);

  it('client.git(path): its clone is hard-wired to the hosted service, but plain `git clone` then lets every other helper work', async () => {
    const { token } = await client.repoToken.create({ name: 'git-helper', repo_ids: [repoId], permission: 'write' } as never);
    const dir = path.join(tmpDir(), 'work');
    // the README's equivalent of client.git(dir).clone({ repoId }): depth 1, the token as password
    await gitOk(['clone', '--quiet', '--depth', '1', s.gitUrl(repoId, token), dir]);
    await gitOk(['-C', dir, 'config', 'user.name', 'agent']);
    await gitOk(['-C', dir, 'config', 'user.email', 'agent@example.com']);
    fs.writeFileSync(path.join(dir, 'from-helper.txt'), 'hi\n');
    const agent = new Relace({ apiKey: token, baseURL: `${s.url}/v1`, maxRetries: 0 });
    agent.git(dir).add({ files: 'from-helper.txt' }).commit({ message: 'via the SDK git helper' });
    agent.git(dir).checkoutBranch({ branch: 'agent/helper', newBranch: true });
    // the helpers run git synchronously (execSync): a push must come from another process, or it
    // would block this one, which serves it
    await execFileAsync(
      process.execPath,
      ['--input-type=module', '-e', `import Relace from '@relace-ai/relace'; new Relace({ apiKey: process.env.T, baseURL: 'http://unused.invalid/v1' }).git(process.env.D).push({ branch: 'agent/helper' });`],
      { cwd: path.resolve(__dirname, '../..'), env: { ...process.env, T: token, D: dir } },
    );
    const files = (await client.repo.clone(repoId, { branch: 'agent/helper' } as never)).files;
    expect(files.find((f) => f.filename === 'from-helper.txt')?.content).toBe('hi\n');
    await s.fsck(repoId);
  });
});
