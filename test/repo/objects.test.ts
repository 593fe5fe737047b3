import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkObject, DEFAULT_FSCK_POLICY, fsckObject } from '../../src/repo/fsck/index.js';
import { commitTime, parseCommit, serializeCommit } from '../../src/repo/objects/commit.js';
import { hashObject, type ObjectType } from '../../src/pack/types.js';
import { parseIdent } from '../../src/repo/objects/ident.js';
import { parseTag, serializeTag } from '../../src/repo/objects/tag.js';
import { parseTree, serializeTree, type TreeEntry } from '../../src/repo/objects/tree.js';
import { referencedOids } from '../../src/repo/objects/references.js';
import { isGitgateError } from '../../src/errors.js';
import { isHfsDotGit, isNtfsDotGit } from '../../src/repo/fsck/names.js';
import { git, gitRaw, tempDir } from './helpers.js';

interface RawObject {
  oid: string;
  type: ObjectType;
  content: Buffer;
}

/** Every object of a repository, via `git cat-file --batch-all-objects --batch`. */
function allObjects(gitdir: string): RawObject[] {
  const out = gitRaw(['--git-dir', gitdir, 'cat-file', '--batch-all-objects', '--batch']).stdout;
  const objects: RawObject[] = [];
  let pos = 0;
  while (pos < out.length) {
    const nl = out.indexOf(0x0a, pos);
    const [oid, type, size] = out.toString('latin1', pos, nl).split(' ');
    const start = nl + 1;
    objects.push({ oid: oid!, type: type as ObjectType, content: out.subarray(start, start + Number(size)) });
    pos = start + Number(size) + 1;
  }
  return objects;
}

const T = '4b825dc642cb6eb9a060e54bf8d69288fbee4904'; // the empty tree
const P = 'a94a8fe5ccb19ba61c4c0873d391e987982fbbd3';
const IDENT = 'A U Thor <author@example.com> 1700000000 +0100';

describe('objects against a repository made by C Git', () => {
  let fx: { dir: string; cleanup(): void };
  let gitdir: string;
  let objects: RawObject[];
  let latin1Name: Buffer;
  const g = (...args: string[]) => git(['--git-dir', gitdir, ...args]);

  beforeAll(() => {
    fx = tempDir();
    const work = path.join(fx.dir, 'work');
    gitdir = path.join(work, '.git');
    const w = (args: string[], input?: string | Buffer) => git(args, { cwd: work, input });
    git(['init', '-q', '-b', 'main', work]);
    w(['config', 'core.filemode', 'true']);
    const put = (rel: string, content: string) => {
      mkdirSync(path.dirname(path.join(work, rel)), { recursive: true });
      writeFileSync(path.join(work, rel), content);
    };
    // names chosen to exercise git's tree order: 'a' (a directory sorts as 'a/'), 'a-b', 'a.b', 'a0'
    put('a/x.txt', 'x\n');
    put('a-b', 'dash\n');
    put('a.b', 'dot\n');
    put('a0', 'zero\n');
    put('ünïcödé.txt', 'unicode\n');
    put('deep/er/still/file', 'deep\n');
    put('run.sh', '#!/bin/sh\necho hi\n');
    chmodSync(path.join(work, 'run.sh'), 0o755);
    symlinkSync('a.b', path.join(work, 'link'));
    w(['add', '-A']);
    w(['commit', '-q', '-m', 'initial commit\n\nwith a body paragraph']);
    w(['tag', '-a', 'v1', '-m', 'version one']);
    // a gitlink (submodule) entry and a file name that is not UTF-8
    const head = w(['rev-parse', 'HEAD']);
    const blob = w(['hash-object', '-w', '--stdin'], 'latin1 named\n');
    latin1Name = Buffer.from('caf\xe9.txt', 'latin1');
    w(['update-index', '--add', '--cacheinfo', `160000,${head},sub`]);
    w(['update-index', '--index-info'], Buffer.concat([Buffer.from(`100644 blob ${blob}\t`), latin1Name, Buffer.from('\n')]));
    w(['commit', '-q', '-m', 'gitlink and latin1 name']);
    // branches and merges, including an octopus
    w(['checkout', '-q', '-b', 'side1', 'HEAD~1']);
    put('side1.txt', 's1\n');
    w(['add', '-A']);
    w(['commit', '-q', '-m', 'side one']);
    w(['checkout', '-q', '-b', 'side2', 'main~1']);
    put('side2.txt', 's2\n');
    w(['add', '-A']);
    w(['commit', '-q', '-m', 'side two']);
    w(['checkout', '-q', 'main']);
    w(['merge', '-q', '--no-edit', 'side1', 'side2']); // octopus
    // a latin1-encoded message
    writeFileSync(path.join(fx.dir, 'msg'), Buffer.from('caf\xe9 au lait\n', 'latin1'));
    w(['-c', 'i18n.commitEncoding=ISO-8859-1', 'commit', '-q', '--allow-empty', '-F', path.join(fx.dir, 'msg')]);
    // tags of a tree and of a tag, and a signed-looking tag
    w(['tag', '-a', 'treetag', '-m', 'a tree', 'HEAD^{tree}']);
    w(['tag', '-a', 'nested', '-m', 'tag of a tag', 'v1']);
    const sig = '-----BEGIN PGP SIGNATURE-----\n\niQEzBAABCAAdFiEE\n=abcd\n-----END PGP SIGNATURE-----\n';
    const signedTag = w(['hash-object', '-t', 'tag', '-w', '--stdin'], `object ${head}\ntype commit\ntag signed\ntagger ${IDENT}\n\nsigned tag\n${sig}`);
    w(['update-ref', 'refs/tags/signed', signedTag]);
    // a merge commit carrying gpgsig and mergetag headers (as `git merge -S` of a signed tag makes)
    const tip = w(['rev-parse', 'HEAD']);
    const tree = w(['rev-parse', 'HEAD^{tree}']);
    const tagBody = w(['cat-file', 'tag', signedTag]);
    const gpgsig = '-----BEGIN PGP SIGNATURE-----\n\nwsBcBAABCAAQBQJl\n=wxyz\n-----END PGP SIGNATURE-----';
    const signedMerge = [
      `tree ${tree}`,
      `parent ${tip}`,
      `parent ${head}`,
      `author ${IDENT}`,
      `committer ${IDENT}`,
      `mergetag ${tagBody.replace(/\n/g, '\n ')}`,
      `gpgsig ${gpgsig.replace(/\n/g, '\n ')}`,
      '',
      'Merge signed tag',
      '',
    ].join('\n');
    const merge = w(['hash-object', '-t', 'commit', '-w', '--stdin'], signedMerge);
    w(['update-ref', 'refs/heads/main', merge]);
    // a commit without a trailing newline and a tag without a tagger (early git)
    const bare = w(['hash-object', '-t', 'commit', '-w', '--stdin'], `tree ${tree}\nparent ${merge}\nauthor ${IDENT}\ncommitter ${IDENT}\n\nno newline`);
    w(['update-ref', 'refs/heads/bare', bare]);
    const oldTag = w(['hash-object', '-t', 'tag', '-w', '--literally', '--stdin'], `object ${head}\ntype commit\ntag old\n\nearly tag\n`);
    w(['update-ref', 'refs/tags/old', oldTag]);
    w(['gc', '-q']); // objects in a pack as well as loose ones
    w(['commit', '-q', '--allow-empty', '-m', 'after gc']);
    objects = allObjects(gitdir);
  });
  afterAll(() => fx.cleanup());

  const ofType = (type: ObjectType) => objects.filter((o) => o.type === type);

  it('the fixture has every kind of object', () => {
    expect(ofType('commit').length).toBeGreaterThanOrEqual(9);
    expect(ofType('tree').length).toBeGreaterThanOrEqual(8);
    expect(ofType('blob').length).toBeGreaterThanOrEqual(10);
    expect(ofType('tag').length).toBe(5);
    expect(gitRaw(['--git-dir', gitdir, 'fsck', '--strict', '--no-dangling']).stderr).toMatch(/^(warning in tag [0-9a-f]+: missingTaggerEntry.*\n)?$/);
  });

  it('checkObject accepts every object C Git made', () => {
    const rejected = objects.map((o) => [o.oid, o.type, checkObject(o.type, o.content)]).filter(([, , r]) => r !== null);
    expect(rejected).toEqual([]);
  });

  it('hashObject reproduces every object id', () => {
    for (const o of objects) expect(hashObject(o.type, o.content).toString('hex')).toBe(o.oid);
  });

  it('trees round-trip byte for byte, also from shuffled entries', () => {
    for (const o of ofType('tree')) {
      const entries = parseTree(o.content);
      expect(serializeTree(entries).equals(o.content), o.oid).toBe(true);
      expect(serializeTree([...entries].reverse()).equals(o.content), o.oid).toBe(true);
    }
  });

  it('parseTree agrees with `git ls-tree`, including gitlinks and non-UTF-8 names', () => {
    for (const o of ofType('tree')) {
      const listing = gitRaw(['--git-dir', gitdir, 'ls-tree', '-z', o.oid]).stdout;
      const expected = listing
        .toString('latin1')
        .split('\0')
        .filter(Boolean)
        .map((line) => {
          const [meta, name] = line.split('\t') as [string, string];
          const [mode, , oid] = meta.split(' ') as [string, string, string];
          return { mode: parseInt(mode, 8), oid, name: Buffer.from(name, 'latin1').toString('hex') };
        });
      const actual = parseTree(o.content).map((e) => ({
        mode: parseInt(e.mode, 8),
        oid: e.oid,
        name: (e.rawName ?? Buffer.from(e.name)).toString('hex'),
      }));
      expect(actual, o.oid).toEqual(expected);
    }
    const withLatin1 = ofType('tree').flatMap((o) => parseTree(o.content)).find((e) => e.rawName);
    expect(withLatin1?.rawName?.equals(latin1Name)).toBe(true);
  });

  it('commits round-trip byte for byte (merges, octopus, encoding, gpgsig, mergetag, no final newline)', () => {
    for (const o of ofType('commit')) expect(serializeCommit(parseCommit(o.content)).equals(o.content), o.oid).toBe(true);
    const heads = ofType('commit').map((o) => parseCommit(o.content));
    expect(heads.some((c) => c.parents.length === 3)).toBe(true);
    const signed = heads.find((c) => c.extraHeaders?.some((h) => h.name === 'gpgsig'));
    expect(signed?.extraHeaders?.map((h) => h.name)).toEqual(['mergetag', 'gpgsig']);
    expect(signed?.extraHeaders?.[1]?.value).toMatch(/^-----BEGIN PGP SIGNATURE-----\n\nwsBc/);
    const latin1 = heads.find((c) => c.extraHeaders?.some((h) => h.name === 'encoding'));
    expect(latin1?.rawMessage?.toString('latin1')).toBe('caf\xe9 au lait\n');
  });

  it('parseCommit and commitTime agree with `git log`', () => {
    const log = g('log', '--all', '--date=raw', '--format=%H|%T|%P|%an <%ae> %ad|%cn <%ce> %cd|%ct');
    for (const line of log.split('\n')) {
      const [oid, tree, parents, author, committer, ct] = line.split('|') as string[];
      const content = objects.find((o) => o.oid === oid)!.content;
      const c = parseCommit(content);
      expect({ tree: c.tree, parents: c.parents.join(' '), author: c.author, committer: c.committer }).toEqual({ tree, parents, author, committer });
      expect(commitTime(content)).toBe(Number(ct));
    }
  });

  it('tags round-trip byte for byte and agree with `git for-each-ref`', () => {
    for (const o of ofType('tag')) expect(serializeTag(parseTag(o.content)).equals(o.content), o.oid).toBe(true);
    const listing = g('for-each-ref', 'refs/tags', '--format=%(objectname)|%(object)|%(type)|%(tag)|%(taggername)');
    for (const line of listing.split('\n')) {
      const [oid, object, type, tag, tagger] = line.split('|') as string[];
      const content = objects.find((o) => o.oid === oid)?.content;
      if (!content || objects.find((o) => o.oid === oid)?.type !== 'tag') continue;
      const t = parseTag(content);
      expect({ object: t.object, type: t.type, tag: t.tag }).toEqual({ object, type, tag });
      expect(t.tagger === null ? '' : t.tagger.split(' <')[0]).toBe(tagger);
    }
    const signed = ofType('tag').map((o) => parseTag(o.content)).find((t) => t.tag === 'signed');
    expect(signed?.message).toMatch(/^signed tag\n-----BEGIN PGP SIGNATURE-----/);
    expect(ofType('tag').map((o) => parseTag(o.content)).find((t) => t.tag === 'old')?.tagger).toBeNull();
  });

  it('referencedOids lists tree entries (not gitlinks), commit tree + parents, and tag targets', () => {
    for (const o of objects) {
      const refs = referencedOids(o.type, o.content);
      if (o.type === 'tree') {
        const expected = g('ls-tree', o.oid)
          .split('\n')
          .filter((l) => l && !l.includes(' commit '))
          .map((l) => ({ oid: l.split(/\s/)[2], type: l.split(/\s/)[1] }));
        expect(refs).toEqual(expected);
      } else if (o.type === 'commit') {
        const [tree, ...parents] = g('show', '-s', '--format=%T %P', o.oid).trim().split(' ');
        expect(refs).toEqual([{ oid: tree, type: 'tree' }, ...parents.map((p) => ({ oid: p, type: 'commit' }))]);
      } else if (o.type === 'tag') {
        expect(refs).toEqual([{ oid: g('cat-file', 'tag', o.oid).split('\n')[0]!.slice(7), type: g('cat-file', 'tag', o.oid).split('\n')[1]!.slice(5) }]);
      } else expect(refs).toEqual([]);
    }
  });

  it('serializeTree sorts like `git mktree`', () => {
    const blob = g('hash-object', '-w', '--stdin');
    const files = ['b', 'a0', 'a.b', 'a-b', 'A', 'a b', 'ä', 'ab.'].map((name) => ({ mode: '100644', name, oid: blob }));
    const dirs = ['a', 'a.c', 'ab'].map((name) => ({ mode: '40000', name, oid: T }));
    const entries: TreeEntry[] = [...files, ...dirs];
    const mktreeInput = entries.map((e) => `${e.mode === '40000' ? '040000 tree' : '100644 blob'} ${e.oid}\t${e.name}`).join('\n') + '\n';
    const expected = git(['--git-dir', gitdir, 'mktree', '--missing'], { input: mktreeInput });
    expect(hashObject('tree', serializeTree(entries)).toString('hex')).toBe(expected);
  });
});

// ---------------------------------------------------------------------------------------------

const BLOB = 'e69de29bb2d1d6434b8b29ae775ad8c2e48c5391'; // the empty blob
// file entries point at the empty blob, directories at the empty tree, so C Git sees consistent types
const entry = (mode: string, name: string | Buffer, oid = mode.replace(/^0+/, '') === '40000' ? T : mode === '160000' ? P : BLOB) =>
  Buffer.concat([Buffer.from(`${mode} `), Buffer.isBuffer(name) ? name : Buffer.from(name), Buffer.from([0]), Buffer.from(oid, 'hex')]);
const tree = (...entries: Buffer[]) => Buffer.concat(entries);
const commit = (header: string, message = 'msg\n') => Buffer.from(`${header}\n${message}`);
const okCommit = (who: string) => commit(`tree ${T}\nauthor ${who}\ncommitter ${IDENT}\n`);
const tag = (s: string) => Buffer.from(s);

/** [type, content, our fsck message id, C Git's id where it differs (null: C Git only warns, we refuse)] */
const MALFORMED: [ObjectType, Buffer, string, (string | null)?][] = [
  ['commit', commit(`author ${IDENT}\ncommitter ${IDENT}\n`), 'missingTree'],
  ['commit', commit(`tree xyz\nauthor ${IDENT}\ncommitter ${IDENT}\n`), 'badTreeSha1'],
  ['commit', commit(`tree ${T} \nauthor ${IDENT}\ncommitter ${IDENT}\n`), 'badTreeSha1'],
  ['commit', commit(`tree ${T}\nparent 1234\nauthor ${IDENT}\ncommitter ${IDENT}\n`), 'badParentSha1'],
  ['commit', commit(`tree ${T}\ncommitter ${IDENT}\n`), 'missingAuthor'],
  ['commit', commit(`tree ${T}\nauthor ${IDENT}\nauthor ${IDENT}\ncommitter ${IDENT}\n`), 'multipleAuthors'],
  ['commit', commit(`tree ${T}\nauthor ${IDENT}\n`), 'missingCommitter'],
  ['commit', okCommit('A <a@b.c 1 +0000'), 'badEmail'],
  ['commit', okCommit('A 1 +0000'), 'missingEmail'],
  ['commit', okCommit('A> <a@b.c> 1 +0000'), 'badName'],
  ['commit', okCommit('<a@b.c> 1 +0000'), 'missingNameBeforeEmail'],
  ['commit', okCommit('A<a@b.c> 1 +0000'), 'missingSpaceBeforeEmail'],
  ['commit', okCommit('A <a@b.c>1 +0000'), 'missingSpaceBeforeDate'],
  ['commit', okCommit('A <a@b.c> x +0000'), 'badDate'],
  ['commit', okCommit('A <a@b.c> 12x +0000'), 'badDate'],
  ['commit', okCommit('A <a@b.c> 01 +0000'), 'zeroPaddedDate'],
  ['commit', okCommit('A <a@b.c> 99999999999999999999 +0000'), 'badDateOverflow'],
  ['commit', okCommit('A <a@b.c> 1 +00'), 'badTimezone'],
  ['commit', okCommit('A <a@b.c> 1 0000'), 'badTimezone'],
  ['commit', Buffer.from(`tree ${T}\nauthor ${IDENT}\0\ncommitter ${IDENT}\n\nm`), 'nulInHeader'],
  ['commit', Buffer.from(`tree ${T}\nauthor ${IDENT}\ncommitter ${IDENT}`), 'unterminatedHeader'],
  ['commit', Buffer.from(`tree ${T}\nauthor ${IDENT}\ncommitter ${IDENT}\n\nnul\0inside`), 'nulInCommit'],
  ['tree', tree(entry('100644', 'a', '0'.repeat(40))), 'nullSha1'],
  ['tree', tree(entry('100644', 'a/b')), 'fullPathname'],
  ['tree', tree(entry('100644', '')), 'badTree'], // git's tree parser refuses an empty name before fsck sees it
  ['tree', tree(entry('40000', '.')), 'hasDot'],
  ['tree', tree(entry('40000', '..')), 'hasDotdot'],
  ['tree', tree(entry('40000', '.git')), 'hasDotgit'],
  ['tree', tree(entry('40000', '.GIT')), 'hasDotgit'],
  ['tree', tree(entry('100644', '.Git')), 'hasDotgit'],
  ['tree', tree(entry('40000', '.git.')), 'hasDotgit'],
  ['tree', tree(entry('40000', '.git  ')), 'hasDotgit'],
  ['tree', tree(entry('40000', '.git...')), 'hasDotgit'],
  ['tree', tree(entry('40000', 'git~1')), 'hasDotgit'],
  ['tree', tree(entry('40000', 'GIT~1')), 'hasDotgit'],
  ['tree', tree(entry('40000', '.g\u200cit')), 'hasDotgit'],
  ['tree', tree(entry('40000', '\ufeff.git')), 'hasDotgit'],
  ['tree', tree(entry('100644', 'x\\.git')), 'hasDotgit'],
  ['tree', tree(entry('100644', '.git:stream')), 'hasDotgit'],
  ['tree', tree(entry('0100644', 'a')), 'zeroPaddedFilemode'],
  ['tree', tree(entry('100644', 'a'), entry('100644', 'a')), 'duplicateEntries'],
  ['tree', tree(entry('100644', 'a'), entry('40000', 'a')), 'duplicateEntries'],
  ['tree', tree(entry('100644', 'a'), entry('100644', 'a-b'), entry('40000', 'a')), 'duplicateEntries'], // not adjacent
  ['tree', tree(entry('100644', 'b'), entry('100644', 'a')), 'treeNotSorted'],
  ['tree', tree(entry('40000', 'a'), entry('100644', 'a.b')), 'treeNotSorted'],
  ['tree', tree(entry('120000', '.gitmodules')), 'gitmodulesSymlink'],
  ['tree', tree(entry('120000', '.GitModules')), 'gitmodulesSymlink'],
  ['tree', tree(entry('120000', 'GITMOD~1')), 'gitmodulesSymlink'],
  ['tree', tree(entry('120000', 'gi7eba~4')), 'gitmodulesSymlink'],
  ['tree', Buffer.from('100644 a\0short'), 'badTree'],
  ['tree', tree(entry('10064x', 'a')), 'badTree'],
  ['tree', tree(entry('', 'a')), 'badTree'],
  ['tree', Buffer.concat([entry('100644', 'a'), Buffer.from('100644 b')]), 'badTree'],
  ['tag', tag(`type commit\ntag v1\ntagger ${IDENT}\n\nm\n`), 'missingObject'],
  ['tag', tag(`object xyz\ntype commit\ntag v1\ntagger ${IDENT}\n\nm\n`), 'badObjectSha1'],
  ['tag', tag(`object ${P}\ntag v1\ntagger ${IDENT}\n\nm\n`), 'missingTypeEntry'],
  ['tag', tag(`object ${P}\ntype car\ntag v1\ntagger ${IDENT}\n\nm\n`), 'badType'],
  ['tag', tag(`object ${P}\ntype commit\ntagger ${IDENT}\n\nm\n`), 'missingTagEntry'],
  ['tag', tag(`object ${P}\ntype commit\ntag v1\ntagger T <t@x> x +0000\n\nm\n`), 'badDate'],
  ['tag', tag(`object ${P}\ntype commit\ntag v1\ntagger ${IDENT}`), 'unterminatedHeader'],
];

/** Info-level findings: reported as warnings, never refused (by C Git either). [type, content, ids] */
const WARNED: [ObjectType, Buffer, string[]][] = [
  ['tree', tree(entry('100664', 'a')), ['badFilemode']],
  ['tree', tree(entry('100600', 'a')), ['badFilemode']],
  ['tree', tree(entry('644', 'a')), ['badFilemode']],
  ['tree', tree(entry('120000', '.gitignore'), entry('120000', '.mailmap')), ['gitignoreSymlink', 'mailmapSymlink']],
  ['tree', tree(entry('120000', '.gitattributes')), ['gitattributesSymlink']],
  ['tag', tag(`object ${P}\ntype commit\ntag v1\n\nearly tags have no tagger\n`), ['missingTaggerEntry']],
  ['tag', tag(`object ${T}\ntype tree\ntag a..b\ntagger ${IDENT}\n\nbad tag names are info-level\n`), ['badTagName']],
];

/** Well-formed. */
const ACCEPTED: [ObjectType, Buffer][] = [
  ['commit', okCommit(IDENT)],
  ['commit', okCommit('A <a@b.c>  \t1700000000 -0730')], // extra whitespace before the date is tolerated
  ['commit', okCommit('A <> 0 +0000')],
  ['commit', Buffer.from(`tree ${T}\nparent ${P}\nparent ${P}\nauthor ${IDENT}\ncommitter ${IDENT}\nencoding latin1\n\nm`)],
  ['commit', Buffer.from(`tree ${T}\nauthor ${IDENT}\ncommitter ${IDENT}\n`)], // header only, no message
  ['tree', Buffer.alloc(0)],
  ['tree', tree(entry('100644', 'a'), entry('100644', 'a.b'), entry('40000', 'a0'), entry('40000', 'b'))],
  ['tree', tree(entry('100644', 'a.b'), entry('40000', 'a'))], // 'a' as a directory sorts as 'a/'
  ['tree', tree(entry('100755', '.gitignore'), entry('120000', 'gitx'), entry('160000', 'sub'))],
  ['tree', tree(entry('100644', '.git2'), entry('100644', '.gitmodules'), entry('100644', 'git~2'), entry('100644', 'x.git'))],
  ['tree', tree(entry('100644', Buffer.from([0xe9])))],
  ['tag', tag(`object ${P}\ntype commit\ntag v1\ntagger ${IDENT}\n\nm\n`)],
  ['blob', Buffer.from('anything \0 goes')],
];

describe('checkObject', () => {
  it.each(MALFORMED.map(([type, content, id]) => [id, type, content] as const))('flags %s in a %s', (id, type, content) => {
    expect(checkObject(type, content)?.split(':')[0]).toBe(id);
  });

  it.each(ACCEPTED.map(([type, content], i) => [i, type, content] as const))('accepts sample %i (%s)', (_i, type, content) => {
    expect(checkObject(type, content)).toBeNull();
  });

  it('formats reasons as "<msgId>: <C Git message>"', () => {
    expect(checkObject('tree', tree(entry('40000', '.git')))).toBe("hasDotgit: contains '.git'");
    expect(checkObject('commit', okCommit('A <a@b.c> 1 +00'))).toBe('badTimezone: invalid author/committer line - bad time zone');
  });

  it.each(WARNED.map(([type, content, ids]) => [ids.join(','), type, content] as const))('warns about %s in a %s', (ids, type, content) => {
    expect(fsckObject('x', type, content, DEFAULT_FSCK_POLICY)).toEqual(ids.split(',').map((id) => expect.objectContaining({ id, outcome: 'warn' })));
    expect(checkObject(type, content)).toBeNull();
  });

  it('follows configured severities', () => {
    const policy = (o: [string, 'error' | 'warn' | 'ignore'][]) => ({ ...DEFAULT_FSCK_POLICY, overrides: new Map(o) }) as typeof DEFAULT_FSCK_POLICY;
    expect(checkObject('tree', tree(entry('100664', 'a')), policy([['badFilemode', 'error']]))).toBe('badFilemode: contains bad file modes');
    expect(checkObject('tree', tree(entry('40000', '.git')), policy([['hasDotgit', 'warn']]))).toBeNull();
    expect(fsckObject('x', 'tree', tree(entry('40000', '.git')), policy([['hasDotgit', 'ignore']]))).toEqual([]);
    expect(checkObject('tree', tree(entry('40000', '.git')), { ...DEFAULT_FSCK_POLICY, skip: new Set(['x']) })).toBe("hasDotgit: contains '.git'");
    expect(fsckObject('x', 'tree', tree(entry('40000', '.git')), { ...DEFAULT_FSCK_POLICY, skip: new Set(['x']) })).toEqual([]);
  });

  it('agrees with `git fsck --strict` on every sample', () => {
    const scratch = tempDir();
    try {
      const gitdir = path.join(scratch.dir, 's.git');
      git(['init', '-q', '--bare', gitdir]);
      git(['--git-dir', gitdir, 'hash-object', '-w', '--stdin'], { input: '' }); // BLOB, read as .gitmodules
      const write = (type: ObjectType, content: Buffer) =>
        git(['--git-dir', gitdir, 'hash-object', '-t', type, '--literally', '-w', '--stdin'], { input: content });
      const malformed = MALFORMED.filter(([, , , gitId]) => gitId !== null).map(([type, content, id, gitId]) => ({ oid: write(type, content), id: gitId ?? id }));
      const warned = WARNED.map(([type, content, ids]) => ({ oid: write(type, content), ids }));
      const accepted = ACCEPTED.map(([type, content]) => write(type, content));
      const report = gitRaw(['--git-dir', gitdir, 'fsck', '--strict', '--no-dangling']).stderr;
      const found = new Map<string, { level: string; ids: Set<string> }>();
      const note = (oid: string, level: string, id?: string) => {
        const f = found.get(oid) ?? { level, ids: new Set<string>() };
        if (level === 'error') f.level = 'error';
        if (id) f.ids.add(id);
        found.set(oid, f);
      };
      for (const m of report.matchAll(/^(error|warning) in \w+ ([0-9a-f]{40}): (\w+): /gm)) note(m[2]!, m[1]!, m[3]!);
      // some objects C Git's parser refuses before fsck names the problem
      for (const m of report.matchAll(/^error: ([0-9a-f]{40}): object could not be parsed/gm)) note(m[1]!, 'error');
      // C Git must reject every malformed sample, and where it names the problem, name ours
      const missed = malformed.filter(({ oid, id }) => {
        const f = found.get(oid);
        return f?.level !== 'error' || (f.ids.size > 0 && !f.ids.has(id));
      });
      expect(missed, report).toEqual([]);
      // what we accept, C Git at most warns about (info-level: missingTaggerEntry, badTagName)
      const rejectedByGit = accepted.filter((oid) => found.get(oid)?.level === 'error');
      expect(rejectedByGit, report).toEqual([]);
      // C Git only warns about these (info level), with the same ids
      expect(warned.map(({ oid }) => found.get(oid)), report).toEqual(warned.map(({ ids }) => ({ level: 'warning', ids: new Set(ids) })));
    } finally {
      scratch.cleanup();
    }
  });
});

describe('codecs on hand-made input', () => {
  it('serializeTree rejects entries C Git could not store', () => {
    for (const bad of [
      { mode: '100644', name: 'a/b', oid: P },
      { mode: '100644', name: '', oid: P },
      { mode: '100644', name: 'a\0b', oid: P },
      { mode: 'rwx', name: 'a', oid: P },
      { mode: '100644', name: 'a', oid: 'xyz' },
    ]) {
      expect(() => serializeTree([bad]), JSON.stringify(bad)).toThrow();
    }
  });

  it('a renamed entry no longer uses the raw bytes of its old name', () => {
    const [e] = parseTree(entry('100644', Buffer.from([0x63, 0xe9])));
    expect(e!.rawName).toBeDefined();
    expect(serializeTree([e!]).equals(entry('100644', Buffer.from([0x63, 0xe9])))).toBe(true);
    expect(serializeTree([{ ...e!, name: 'renamed' }]).equals(entry('100644', 'renamed'))).toBe(true);
  });

  it('serializeCommit writes the canonical layout', () => {
    const c = {
      tree: T,
      parents: [P],
      author: IDENT,
      committer: IDENT,
      extraHeaders: [{ name: 'gpgsig', value: 'line1\n\nline3' }],
      message: 'subject\n\nbody\n',
    };
    const bytes = serializeCommit(c);
    expect(bytes.toString()).toBe(`tree ${T}\nparent ${P}\nauthor ${IDENT}\ncommitter ${IDENT}\ngpgsig line1\n \n line3\n\nsubject\n\nbody\n`);
    expect(parseCommit(bytes)).toEqual(c);
    expect(checkObject('commit', bytes)).toBeNull();
    expect(() => serializeCommit({ ...c, author: 'A\nB' })).toThrow();
  });

  it('parses a header-only commit (no blank line) without inventing a header', () => {
    const c = parseCommit(Buffer.from(`tree ${T}\nauthor ${IDENT}\ncommitter ${IDENT}\n`));
    expect(c).toEqual({ tree: T, parents: [], author: IDENT, committer: IDENT, extraHeaders: [], message: '' });
  });

  it('parseCommit throws CORRUPT_REPO without a tree', () => {
    const err = (() => {
      try {
        parseCommit(Buffer.from('garbage'));
      } catch (e) {
        return e;
      }
    })();
    expect(isGitgateError(err, 'CORRUPT_REPO')).toBe(true);
  });

  it('commitTime reads the committer, not the author, and 0 when absent', () => {
    const c = Buffer.from(`tree ${T}\nauthor A <a@b> 111 +0000\ncommitter C <c@d> 222 -0100\n\ncommitter X <x@y> 333 +0000\n`);
    expect(commitTime(c)).toBe(222);
    expect(commitTime(Buffer.from(`tree ${T}\n\nbody`))).toBe(0);
  });

  it('parseIdent splits an identity line', () => {
    expect(parseIdent(IDENT)).toEqual({ name: 'A U Thor', email: 'author@example.com', timestamp: 1700000000, timezone: '+0100' });
    expect(parseIdent('no email 1 +0000')).toBeNull();
  });

  it('recognises .git spellings that Windows and macOS treat as .git', () => {
    for (const yes of ['.git', '.GIT', '.git.', '.git ', 'git~1', 'GIT~1', '.git:x']) expect(isNtfsDotGit(yes), yes).toBe(true);
    for (const no of ['.gitx', 'git~2', 'git', '.gi', 'x.git']) expect(isNtfsDotGit(no), no).toBe(false);
    for (const yes of ['.git', '.GiT', '.g\u200dit', '.git\u206a']) expect(isHfsDotGit(yes), yes).toBe(true);
    for (const no of ['.git.', '.gît', '.git~1', '.\u212Ait']) expect(isHfsDotGit(no), no).toBe(false);
  });
});
