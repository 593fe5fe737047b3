// TreeEditor, diffTrees and the update service against C Git's view of the same objects.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isGitgateError } from '../../src/errors.js';
import { EMPTY_TREE, TreeEditor, commitTree, diffTrees, isBinary, listFiles, writeObjects } from '../../src/service/content/tree.js';
import { applyContentChange } from '../../src/service/content/update.js';
import { describeOperations, moveBranch, apiIdent } from '../../src/service/content/commit.js';
import { contentPath, pathFromSegments } from '../../src/service/content/paths.js';
import { gitOk } from '../helpers/git.js';
import { serviceEnv, type ServiceEnv } from './helpers.js';

describe('content paths', () => {
  it('accepts ordinary paths and joins wildcard segments', () => {
    expect(contentPath('src/a.ts')).toBe('src/a.ts');
    expect(contentPath('.github/workflows/ci.yml')).toBe('.github/workflows/ci.yml');
    expect(contentPath('.gitignore')).toBe('.gitignore');
    expect(pathFromSegments(['src/a.ts'])).toBe('src/a.ts');
    expect(pathFromSegments(['src', 'a.ts'])).toBe('src/a.ts');
  });

  it('rejects traversal, absolute, .git (and its aliases), NUL and empty components', () => {
    for (const bad of ['', '/a', '../a', 'a/../b', 'a/./b', '.git/config', 'x/.GIT/y', 'git~1/config', '.git./x', '.git /x', 'a\0b', 'a//b', 'a/', 'a\\b']) {
      let err: unknown;
      try {
        contentPath(bad);
      } catch (e) {
        err = e;
      }
      expect(isGitgateError(err, 'BAD_PATH'), JSON.stringify(bad)).toBe(true);
    }
    expect(() => pathFromSegments(['a', '..', 'b'])).toThrow(/Invalid file path/);
    expect(() => pathFromSegments(undefined)).toThrow(/Invalid file path/);
  });
});

describe('binary detection', () => {
  it('treats NUL bytes in the first 8000 bytes and invalid UTF-8 as binary', () => {
    expect(isBinary(Buffer.from('plain text\n'))).toBe(false);
    expect(isBinary(Buffer.from('héllo wörld ✓'))).toBe(false);
    expect(isBinary(Buffer.from([0x61, 0, 0x62]))).toBe(true);
    expect(isBinary(Buffer.from([0xff, 0xfe, 0x41]))).toBe(true);
    expect(isBinary(Buffer.concat([Buffer.alloc(9000, 0x61), Buffer.from([0])]))).toBe(false); // NUL beyond 8000, valid UTF-8
  });
});

describe('commit messages and identities', () => {
  it('says what changed, briefly, with every operation in the body when long', () => {
    expect(describeOperations(['write a.ts'])).toBe('Update 1 file: write a.ts');
    expect(describeOperations(['write a.ts', 'delete b.ts', 'rename c.ts -> d.ts'])).toBe('Update 3 files: write a.ts, delete b.ts, rename c.ts -> d.ts');
    const many = Array.from({ length: 40 }, (_, i) => `write src/file-${i}.ts`);
    const msg = describeOperations(many);
    const [subject, blank, ...body] = msg.split('\n');
    expect(subject).toMatch(/^Update 40 files: write src\/file-0\.ts, .* and \d+ more$/);
    expect(subject!.length).toBeLessThanOrEqual(100);
    expect(blank).toBe('');
    expect(body).toHaveLength(40);
    expect(body[39]).toBe('- write src/file-39.ts');
  });

  it('strips characters git forbids in identities', () => {
    const ident = apiIdent({ config: { authorName: 'Evil <x>\nName', authorEmail: '<a@b>' } } as never, new Date(1_700_000_000_000));
    expect(ident).toBe('Evil xName <a@b> 1700000000 +0000');
  });
});

describe.each(['fs', 'memory'] as const)('tree editing (%s)', (kind) => {
  let env: ServiceEnv;
  beforeAll(() => {
    env = serviceEnv(kind);
  });
  afterAll(async () => {
    await env.close();
  });

  it('edits lazily and builds the trees git builds', async () => {
    const { repo, head } = await env.repo({ 'a.txt': 'a', 'dir/b.txt': 'b', 'dir/sub/c.txt': 'c', 'other/d.txt': 'd' });
    const base = await commitTree(repo, head!);
    const editor = new TreeEditor(repo, base);
    await editor.setFile('dir/sub/new.txt', '100644', editor.addBlob(Buffer.from('new')));
    expect(await editor.remove('other/d.txt')).toBe(true); // empties other/: it disappears
    expect(await editor.remove('missing.txt')).toBe(false);
    expect(await editor.remove('a.txt/x')).toBe(false);
    const taken = await editor.take('dir/sub');
    await editor.put('moved/sub', taken!);
    const built = await editor.build();
    await writeObjects(repo, built.objects);
    const files = await listFiles(repo, built.tree);
    expect(files.map((f) => f.path)).toEqual(['a.txt', 'dir/b.txt', 'moved/sub/c.txt', 'moved/sub/new.txt']);
    expect(await diffTrees(repo, base, built.tree)).toEqual([
      { path: 'dir/sub/c.txt', status: 'D' },
      { path: 'moved/sub/c.txt', status: 'A' },
      { path: 'moved/sub/new.txt', status: 'A' },
      { path: 'other/d.txt', status: 'D' },
    ]);
    if (kind === 'fs') {
      // C Git agrees on every tree id: rebuild the same tree from an index and compare
      const gitdir = env.ctx.manager.gitdirOf(repo.id);
      const lines = files.map((f) => `${f.mode} ${f.oid}\t${f.path}`).join('\n') + '\n';
      const idx = `${env.dataDir}/tmp-index-${kind}`;
      await gitOk(['--git-dir', gitdir, 'update-index', '--add', '--index-info'], { input: lines, env: { GIT_INDEX_FILE: idx } });
      expect((await gitOk(['--git-dir', gitdir, 'write-tree'], { env: { GIT_INDEX_FILE: idx } })).trim()).toBe(built.tree);
    }
  });

  it('refuses file/directory clashes', async () => {
    const { repo, head } = await env.repo({ 'a.txt': 'a', 'dir/b.txt': 'b' });
    const editor = new TreeEditor(repo, await commitTree(repo, head!));
    await expect(editor.setFile('a.txt/child', '100644', editor.addBlob(Buffer.from('x')))).rejects.toThrow(/a.txt is a file/);
    await expect(editor.setFile('dir', '100644', editor.addBlob(Buffer.from('x')))).rejects.toThrow(/dir is a directory/);
  });

  it('deleting everything yields the empty tree', async () => {
    const { repo, head } = await env.repo({ 'a/b/c.txt': 'c' });
    const editor = new TreeEditor(repo, await commitTree(repo, head!));
    await editor.remove('a');
    expect((await editor.build()).tree).toBe(EMPTY_TREE);
  });

  it('writes nothing when a change fails validation', async () => {
    const { id, repo } = await env.repo({ 'a.txt': 'a' });
    const listing = async () => {
      const out: string[] = [];
      for (const d of await env.ctx.storage.readdir(`${repo.gitdir}/objects`)) {
        for (const f of await env.ctx.storage.readdir(`${repo.gitdir}/objects/${d}`)) out.push(`${d}/${f}`);
      }
      return out.sort();
    };
    const before = await listing();
    expect(before.length).toBeGreaterThan(0);
    const row = (await env.ctx.repos.get(id))!;
    await expect(
      applyContentChange(env.ctx, row, {
        kind: 'diff',
        operations: [
          { type: 'write', filename: 'brand-new.txt', content: 'unique content 12345' },
          { type: 'delete', filename: 'missing.txt' },
        ],
      }),
    ).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
    expect(await listing()).toEqual(before);
  });

  it('records a ref the API moves outside any request (CLI, background) in the audit trail', async () => {
    const { id } = await env.repo({ 'a.txt': 'a' });
    const created = (await env.ctx.audit.list({ action: 'ref.update', repoId: id })).items;
    expect(created).toHaveLength(1); // the initial commit of createRepo, outside a request too
    const row = (await env.ctx.repos.get(id))!;
    const done = await applyContentChange(env.ctx, row, { kind: 'write', path: 'b.txt', content: Buffer.from('b\n') });
    const [latest] = (await env.ctx.audit.list({ action: 'ref.update', repoId: id })).items;
    expect(latest).toMatchObject({ ref: 'refs/heads/main', old_oid: created[0]!.new_oid, new_oid: done.repo_head, actor_token_id: null, client_ip: null });
  });

  it('moveBranch refuses a stale old value with STALE_REF', async () => {
    const { repo, head } = await env.repo({ 'a.txt': 'a' });
    await expect(moveBranch(env.ctx.audit, repo, 'refs/heads/main', 'f'.repeat(40), head!)).rejects.toMatchObject({ code: 'STALE_REF', status: 409 });
    await expect(moveBranch(env.ctx.audit, repo, 'refs/heads/main', null, head!)).rejects.toMatchObject({ code: 'STALE_REF' });
  });
});
