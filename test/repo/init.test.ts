import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { initBareRepo } from '../../src/repo/init.js';
import { RefStore } from '../../src/repo/refs.js';
import type { Storage } from '../../src/repo/storage.js';
import { isGitgateError } from '../../src/errors.js';
import { STORAGE_KINDS, git, gitRaw, makeStorage, tempDir, walkFiles, type TestStorage } from './helpers.js';

describe.each(STORAGE_KINDS)('initBareRepo on %s', (kind) => {
  let ts: TestStorage;
  let storage: Storage;
  let gitdir: string;

  beforeEach(() => {
    ts = makeStorage(kind);
    storage = ts.storage;
    gitdir = `${storage.root}/repo1.git`;
  });
  afterEach(() => ts.cleanup());

  it('writes the files of `git init --bare` with identical contents', async () => {
    await initBareRepo(storage, gitdir, 'main');
    const read = async (f: string) => (await storage.readFile(`${gitdir}/${f}`)).toString('utf8');
    expect(await read('HEAD')).toBe('ref: refs/heads/main\n');
    expect(await read('config')).toBe('[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = true\n');
    expect(await read('description')).toBe("Unnamed repository; edit this file 'description' to name the repository.\n");
    expect(await read('info/exclude')).toMatch(/^# git ls-files --others --exclude-from=\.git\/info\/exclude\n/);
    for (const dir of ['objects/info', 'objects/pack', 'refs/heads', 'refs/tags', 'info']) {
      expect((await storage.stat(`${gitdir}/${dir}`))?.isDirectory(), dir).toBe(true);
    }
    const files = (await walkFiles(storage, gitdir)).map((f) => f.slice(gitdir.length + 1)).sort();
    expect(files).toEqual(['HEAD', 'config', 'description', 'info/exclude']); // no temp files left
  });

  it('yields an empty repository: HEAD is an unborn symbolic ref, no refs', async () => {
    await initBareRepo(storage, gitdir, 'trunk');
    const refs = new RefStore(storage, gitdir);
    expect(await refs.readSymbolic('HEAD')).toBe('refs/heads/trunk');
    expect(await refs.resolve('HEAD')).toBeNull();
    expect(await refs.list()).toEqual([]);
  });

  it('rejects an invalid default branch and creates nothing', async () => {
    for (const bad of ['', 'a..b', 'x.lock', 'has space', 'trailing/']) {
      const err = await initBareRepo(storage, gitdir, bad).catch((e: unknown) => e);
      expect(isGitgateError(err, 'BAD_REF_NAME'), bad).toBe(true);
    }
    expect(await storage.exists(gitdir)).toBe(false);
  });

  it('refuses to re-initialise an existing repository', async () => {
    await initBareRepo(storage, gitdir, 'main');
    await storage.writeFile(`${gitdir}/HEAD`, 'ref: refs/heads/other\n');
    const err = await initBareRepo(storage, gitdir, 'main').catch((e: unknown) => e);
    expect(isGitgateError(err, 'NAME_TAKEN')).toBe(true);
    expect((await storage.readFile(`${gitdir}/HEAD`)).toString()).toBe('ref: refs/heads/other\n');
  });
});

describe('initBareRepo with C Git (fs)', () => {
  let ts: TestStorage;
  let storage: Storage;
  let gitdir: string;

  beforeEach(() => {
    ts = makeStorage('fs');
    storage = ts.storage;
    gitdir = `${storage.root}/repo1.git`;
  });
  afterEach(() => ts.cleanup());

  it('is accepted by C Git: fsck, empty log, bare, symbolic HEAD, and a push into it', async () => {
    await initBareRepo(storage, gitdir, 'main');
    expect(gitRaw(['--git-dir', gitdir, 'fsck', '--full', '--strict']).status).toBe(0);
    const log = gitRaw(['--git-dir', gitdir, 'log']);
    expect(log.status).not.toBe(0);
    expect(log.stderr).toMatch(/does not have any commits yet/);
    expect(git(['--git-dir', gitdir, 'rev-parse', '--is-bare-repository'])).toBe('true');
    expect(git(['--git-dir', gitdir, 'symbolic-ref', 'HEAD'])).toBe('refs/heads/main');

    const work = tempDir();
    try {
      git(['init', '-q', '-b', 'main', work.dir]);
      git(['commit', '-q', '--allow-empty', '-m', 'first'], { cwd: work.dir });
      git(['push', '-q', gitdir, 'main'], { cwd: work.dir });
      const pushed = git(['rev-parse', 'HEAD'], { cwd: work.dir });
      expect(await new RefStore(storage, gitdir).resolve('HEAD')).toBe(pushed);
      expect(git(['--git-dir', gitdir, 'log', '--format=%s'])).toBe('first');
    } finally {
      work.cleanup();
    }
  });
});
