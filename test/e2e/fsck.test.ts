// Pushed objects are checked like C Git's receive-pack with receive.fsckObjects: the same
// message ids and severities, warnings on side-band in the same words, per-id overrides
// (GITGATE_FSCK) and a skip list (GITGATE_FSCK_SKIPLIST). C Git itself, pushed to over
// file:// with the equivalent receive.fsck.* settings, is the oracle for every case.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { checkThreadStarts, setCheckThreadMinBytes } from '../../src/repo/check-thread.js';
import { git, gitOk, tmpDir } from '../helpers/git.js';
import { leftovers, remoteRef } from '../helpers/push.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const IDENT = 'A U Thor <a@example.com> 1700000000 +0000';

interface Pushed {
  code: number;
  /** `warning: object …` / `error: object …` lines, sorted (C Git checks objects in parallel). */
  reports: string[];
  stderr: string;
}

function reportsOf(stderr: string): string[] {
  return [...stderr.matchAll(/^remote: ((?:warning|error): object [0-9a-f]{40}: .*?)\s*$/gm)].map((m) => m[1]!).sort();
}

describe.each([
  ['', undefined],
  [' (checked in a thread)', 0],
] as const)('fsck of pushed objects, against C Git%s', (_where, threadFrom) => {
  let src: string;
  // objects of the two histories, by what is wrong with them
  const o: Record<string, string> = {};
  const servers = new Map<string, TestServer>();

  const write = async (type: string, content: Buffer | string) =>
    (await gitOk(['hash-object', '--literally', '-t', type, '-w', '--stdin'], { cwd: src, input: content })).trim();
  const tree = (entries: [string, string, string][]) =>
    write('tree', Buffer.concat(entries.map(([mode, name, oid]) => Buffer.concat([Buffer.from(`${mode} ${name}\0`), Buffer.from(oid, 'hex')]))));

  beforeAll(async () => {
    setCheckThreadMinBytes(threadFrom);
    src = tmpDir('gitgate-fsck-src-');
    await gitOk(['init', '-q', src]);
    const blob = await write('blob', 'hello\n');
    // "warned": info-level findings only, which C Git reports and accepts
    o.badFilemode = await tree([['100664', 'a', blob]]);
    o.symlinks = await tree([['120000', '.gitattributes', blob], ['120000', '.gitignore', blob], ['120000', '.mailmap', blob]]);
    const root = await tree([['100644', 'f', blob], ['40000', 'links', o.symlinks], ['40000', 'modes', o.badFilemode]]);
    o.warnedCommit = await write('commit', `tree ${root}\nauthor ${IDENT}\ncommitter ${IDENT}\n\nold modes\n`);
    o.missingTagger = await write('tag', `object ${o.warnedCommit}\ntype commit\ntag v0.1\n\nearly tags had no tagger\n`);
    o.badTagName = await write('tag', `object ${o.warnedCommit}\ntype commit\ntag a..b\ntagger ${IDENT}\n\nbad name\n`);
    await gitOk(['update-ref', 'refs/heads/warned', o.warnedCommit], { cwd: src });
    await gitOk(['update-ref', 'refs/tags/v0.1', o.missingTagger], { cwd: src });
    await gitOk(['update-ref', 'refs/tags/odd', o.badTagName], { cwd: src });
    // "errors": findings C Git refuses by default (zeroPaddedFilemode is a warning made an error by strict mode)
    // only reachable through the zero-padded entry, so a walk that misreads it loses the blob
    const sub = await tree([['100644', 'g', await write('blob', 'below a zero-padded mode\n')]]);
    o.zeroPadded = await tree([['100644', 'f', blob], ['040000', 'sub', sub]]);
    o.badTimezone = await write('commit', `tree ${o.zeroPadded}\nauthor A <a@b.c> 1700000000 +01\ncommitter ${IDENT}\n\nbad zone\n`);
    o.missingEmail = await write('commit', `tree ${o.zeroPadded}\nparent ${o.badTimezone}\nauthor A 1700000000 +0000\ncommitter ${IDENT}\n\nno email\n`);
    await gitOk(['update-ref', 'refs/heads/errors', o.missingEmail], { cwd: src });
    // blobs checked once all trees are known: .gitmodules as git config, .gitattributes line lengths
    o.unparsable = await write('blob', '[submodule "lib"\n\tpath = lib\n');
    o.optionUrl = await write('blob', '[submodule "lib"]\n\tpath = lib\n\turl = -upload-pack=touch\n');
    o.longLine = await write('blob', `*.bin ${'x'.repeat(3000)}\n`);
    const blobCommit = async (name: string, content: string, parent?: string) =>
      write('commit', `tree ${await tree([['100644', name, content], ['100644', 'f', blob]])}\n${parent ? `parent ${parent}\n` : ''}author ${IDENT}\ncommitter ${IDENT}\n\n${name}\n`);
    await gitOk(['update-ref', 'refs/heads/unparsable', await blobCommit('.gitmodules', o.unparsable)], { cwd: src });
    await gitOk(['update-ref', 'refs/heads/option-url', await blobCommit('.gitmodules', o.optionUrl)], { cwd: src });
    await gitOk(['update-ref', 'refs/heads/long-line', await blobCommit('.gitattributes', o.longLine)], { cwd: src });
  });

  afterAll(async () => {
    setCheckThreadMinBytes();
    for (const s of servers.values()) await s.close();
  });

  async function server(env: Record<string, string>): Promise<TestServer> {
    const key = JSON.stringify(env);
    if (!servers.has(key)) servers.set(key, await startTestServer('fs', env));
    return servers.get(key)!;
  }

  /** Push refs into a new gitgate repository on a server with `env`. */
  async function pushGitgate(env: Record<string, string>, refs: string[]): Promise<Pushed & { s: TestServer; id: string; url: string }> {
    const s = await server(env);
    const id = await s.createRepo();
    const url = s.gitUrl(id, s.admin);
    const r = await git(['push', url, ...refs], { cwd: src });
    return { code: r.code, reports: reportsOf(r.stderr), stderr: r.stderr, s, id, url };
  }

  /** The same push into a bare repository served by C Git's receive-pack. */
  async function pushCGit(config: Record<string, string>, refs: string[]): Promise<Pushed & { dir: string }> {
    const dir = path.join(tmpDir('gitgate-fsck-oracle-'), 'o.git');
    await gitOk(['init', '-q', '--bare', dir]);
    for (const [k, v] of Object.entries({ 'receive.fsckObjects': 'true', ...config })) await gitOk(['--git-dir', dir, 'config', k, v]);
    const r = await git(['push', `file://${dir}`, ...refs], { cwd: src });
    return { code: r.code, reports: reportsOf(r.stderr), stderr: r.stderr, dir };
  }

  const WARNED_REFS = ['refs/heads/warned', 'refs/tags/v0.1', 'refs/tags/odd'];

  it('accepts every warning class and prints the warnings exactly as C Git does', async () => {
    const started = checkThreadStarts.count;
    const ours = await pushGitgate({}, WARNED_REFS);
    expect(checkThreadStarts.count - started).toBe(threadFrom === 0 ? 1 : 0);
    const theirs = await pushCGit({}, WARNED_REFS);
    expect(theirs.code, theirs.stderr).toBe(0);
    expect(ours.code, ours.stderr).toBe(0);
    expect(ours.reports).toEqual(theirs.reports);
    expect(ours.reports).toEqual(
      [
        `warning: object ${o.symlinks}: gitattributesSymlink: .gitattributes is a symlink`,
        `warning: object ${o.symlinks}: gitignoreSymlink: .gitignore is a symlink`,
        `warning: object ${o.symlinks}: mailmapSymlink: .mailmap is a symlink`,
        `warning: object ${o.badFilemode}: badFilemode: contains bad file modes`,
        `warning: object ${o.missingTagger}: missingTaggerEntry: invalid format - expected 'tagger' line`,
        `warning: object ${o.badTagName}: badTagName: invalid 'tag' name: a..b`,
      ].sort(),
    );
    expect(await remoteRef(ours.url, 'refs/tags/v0.1')).toBe(o.missingTagger);
    await ours.s.fsck(ours.id); // git fsck --full --strict: these are warnings there too
    await gitOk(['--git-dir', theirs.dir, 'fsck', '--full', '--strict']);
  });

  it('refuses what C Git refuses by default, and changes nothing', async () => {
    const ours = await pushGitgate({}, ['refs/heads/errors']);
    const theirs = await pushCGit({}, ['refs/heads/errors']);
    expect(theirs.code).not.toBe(0);
    expect(ours.code).not.toBe(0);
    expect(ours.stderr).toMatch(/\[remote rejected\] errors -> errors \(unpacker error\)/);
    // each stops at its first error; which object comes first depends on the order of checking
    const errors = (p: Pushed) => p.reports.filter((l) => l.startsWith('error: '));
    const possible = [
      `error: object ${o.zeroPadded}: zeroPaddedFilemode: contains zero-padded file modes`,
      `error: object ${o.badTimezone}: badTimezone: invalid author/committer line - bad time zone`,
      `error: object ${o.missingEmail}: missingEmail: invalid author/committer line - missing email`,
    ];
    expect(errors(theirs)).toHaveLength(1);
    expect(possible).toContain(errors(theirs)[0]);
    expect(errors(ours)).toHaveLength(1);
    expect(possible).toContain(errors(ours)[0]);
    expect(await remoteRef(ours.url, 'refs/heads/errors')).toBeNull();
    expect(await leftovers(ours.s, ours.id)).toEqual([]);
  });

  it('demotes errors to warnings with GITGATE_FSCK, like receive.fsck.<msg-id>', async () => {
    // ids in any case, and every separator git accepts
    const ours = await pushGitgate({ GITGATE_FSCK: 'zeroPaddedFilemode=warn,BADTIMEZONE=warn missingemail=warn' }, ['refs/heads/errors']);
    const demoted = { 'receive.fsck.zeroPaddedFilemode': 'warn', 'receive.fsck.badTimezone': 'warn', 'receive.fsck.missingEmail': 'warn' };
    const theirs = await pushCGit(demoted, ['refs/heads/errors']);
    expect(theirs.code, theirs.stderr).toBe(0);
    expect(ours.code, ours.stderr).toBe(0);
    expect(ours.reports).toEqual(theirs.reports);
    expect(ours.reports).toHaveLength(3);
    const fsckDemoted = ['-c', 'fsck.zeroPaddedFilemode=warn', '-c', 'fsck.badTimezone=warn', '-c', 'fsck.missingEmail=warn'];
    const bare = await ours.s.bareRepo(ours.id);
    await gitOk([...fsckDemoted, '--git-dir', bare, 'fsck', '--full']);
    await gitOk([...fsckDemoted, '--git-dir', theirs.dir, 'fsck', '--full']);
    // and it clones back whole: the zero-padded '040000' entry is walked as the directory it is
    const clone = path.join(tmpDir(), 'c.git');
    await gitOk(['clone', '-q', '--bare', ours.url, clone]);
    await gitOk([...fsckDemoted, '--git-dir', clone, 'fsck', '--full']);
    const objects = async (args: string[]) => (await gitOk([...args, 'rev-list', '--objects', 'refs/heads/errors'])).split('\n').sort();
    expect(await objects(['--git-dir', clone])).toEqual(await objects(['-C', src]));
  });

  it('raises warnings to errors with GITGATE_FSCK, like receive.fsck.<msg-id>', async () => {
    const ours = await pushGitgate({ GITGATE_FSCK: 'badFilemode=error' }, WARNED_REFS);
    const theirs = await pushCGit({ 'receive.fsck.badFilemode': 'error' }, WARNED_REFS);
    expect(theirs.code).not.toBe(0);
    expect(ours.code).not.toBe(0);
    const refusal = `error: object ${o.badFilemode}: badFilemode: contains bad file modes`;
    expect(theirs.reports).toContain(refusal);
    expect(ours.reports).toContain(refusal);
    for (const ref of WARNED_REFS) expect(await remoteRef(ours.url, ref)).toBeNull();
    expect(await leftovers(ours.s, ours.id)).toEqual([]);
  });

  it('skips the objects of GITGATE_FSCK_SKIPLIST, like receive.fsck.skipList', async () => {
    const list = path.join(tmpDir(), 'skiplist');
    fs.writeFileSync(
      list,
      [
        '# known oddities of an imported history',
        o.zeroPadded,
        `  ${o.badTimezone.toUpperCase()}   # upper case and a trailing comment`,
        '',
        o.missingEmail,
        o.badFilemode,
        '',
      ].join('\n'),
    );
    const refs = [...WARNED_REFS, 'refs/heads/errors'];
    const ours = await pushGitgate({ GITGATE_FSCK_SKIPLIST: list }, refs);
    const theirs = await pushCGit({ 'receive.fsck.skipList': list }, refs);
    expect(theirs.code, theirs.stderr).toBe(0);
    expect(ours.code, ours.stderr).toBe(0);
    expect(ours.reports).toEqual(theirs.reports);
    // the listed objects are silent; the others still warn
    expect(ours.reports.some((l) => l.includes(o.badFilemode))).toBe(false);
    expect(ours.reports).toHaveLength(5);
    expect(await remoteRef(ours.url, 'refs/heads/errors')).toBe(o.missingEmail);
  });

  it('checks .gitmodules and .gitattributes blobs as C Git does', async () => {
    const warned = await pushGitgate({}, ['refs/heads/unparsable']);
    const warnedC = await pushCGit({}, ['refs/heads/unparsable']);
    expect(warnedC.code, warnedC.stderr).toBe(0);
    expect(warned.code, warned.stderr).toBe(0);
    expect(warned.reports).toEqual(warnedC.reports);
    expect(warned.reports).toEqual([`warning: object ${o.unparsable}: gitmodulesParse: could not parse gitmodules blob`]);
    for (const [ref, line] of [
      ['refs/heads/option-url', `error: object ${o.optionUrl}: gitmodulesUrl: disallowed submodule url: -upload-pack=touch`],
      ['refs/heads/long-line', `error: object ${o.longLine}: gitattributesLineLength: .gitattributes has too long lines to parse`],
    ] as const) {
      const ours = await pushGitgate({}, [ref]);
      const theirs = await pushCGit({}, [ref]);
      expect(theirs.code).not.toBe(0);
      expect(ours.code).not.toBe(0);
      expect(theirs.reports).toEqual([line]);
      expect(ours.reports).toEqual([line]);
      expect(await remoteRef(ours.url, ref)).toBeNull();
      expect(await leftovers(ours.s, ours.id)).toEqual([]);
    }
  });

  it('refuses bad settings at start-up', () => {
    expect(() => loadConfig({}, { GITGATE_FSCK: 'noSuchId=warn' })).toThrow(/GITGATE_FSCK: unknown fsck message id "noSuchId"/);
    expect(() => loadConfig({}, { GITGATE_FSCK: 'badFilemode=loud' })).toThrow(/unknown fsck message type "loud"/);
    expect(() => loadConfig({}, { GITGATE_FSCK: 'badFilemode' })).toThrow(/missing '='/);
    expect(() => loadConfig({}, { GITGATE_FSCK: 'nulInHeader=warn' })).toThrow(/cannot demote nulInHeader/);
    const bad = path.join(tmpDir(), 'bad-skiplist');
    fs.writeFileSync(bad, 'not-an-id\n');
    expect(() => loadConfig({}, { GITGATE_FSCK_SKIPLIST: bad })).toThrow(/GITGATE_FSCK_SKIPLIST: invalid object name: not-an-id/);
    expect(() => loadConfig({}, { GITGATE_FSCK_SKIPLIST: path.join(bad, 'missing') })).toThrow(/GITGATE_FSCK_SKIPLIST: cannot read/);
    expect(loadConfig({}, { GITGATE_FSCK: 'badFilemode=ignore,largePathname=warn:100' }).fsck).toMatchObject({ maxPathnameLength: 100 });
  });
});
