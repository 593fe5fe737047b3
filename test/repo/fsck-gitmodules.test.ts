// .gitmodules blobs are checked as C Git checks them (config parsing, submodule names, URLs,
// paths, update commands), with `git fsck --strict` as the oracle on every sample. (HTTP URLs
// that only url_normalize refuses, like a bad port, are left out: this git predates it.)
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_FSCK_POLICY, fsckSpecialBlob } from '../../src/repo/fsck/index.js';
import { urlNormalize } from '../../src/repo/fsck/url-normalize.js';
import { git, gitRaw, tempDir } from './helpers.js';

const SAMPLES: string[] = [
  '[submodule "lib"]\n\tpath = lib\n\turl = https://example.com/lib.git\n',
  '[submodule "lib"]\n\tpath = lib\n\turl = ../lib.git\n',
  '[submodule "lib"]\n\turl = git://example.com/lib\n\turl = git@example.com:lib.git\n',
  '[submodule "lib"]\n\turl = https://user:pw@Example.COM:0443/a/./b/../c?x=%41#y\n',
  '[submodule "lib"]\n\turl\n\tpath = ok # -a comment\n',
  '\xef\xbb\xbf; a comment\n# another\n[submodule "a"] path = b\n',
  '[submodule "../../modules/evil"]\n\tpath = a\n',
  '[submodule "a/../b"]\n\tpath = a\n',
  '[submodule "a\\\\..\\\\b"]\n\tpath = a\n',
  '[submodule "..x"]\n\tpath = a\n',
  '[submodule ""]\n\tpath = a\n',
  '[submodule "a"]\n\turl = -upload-pack=touch\n',
  '[submodule "a"]\n\turl = "-quoted"\n',
  '[submodule "a"]\n\turl = ./%0ahost=example.com\n',
  '[submodule "a"]\n\turl = ../../:x\n',
  '[submodule "a"]\n\turl = ../..//x\n',
  '[submodule "a"]\n\turl = https://\n',
  '[submodule "a"]\n\turl = https://example.com/%0a\n',
  '[submodule "a"]\n\turl = http::https://example.com/a%0ab\n',
  '[submodule "a"]\n\tpath = -x\n',
  '[submodule "a"]\r\n\tpath = -crlf\r\n',
  '[SUBMODULE "a"]\n\tURL = -upper\n',
  '[submodule "a"]\n\tupdate = !rm -rf /\n\tupdate = rebase\n',
  '[submodule "../x"]\n\turl = -y\n\tpath = -z\n',
  '[submodule.dotted]\n\tpath = -old-style\n',
  '[submodule "a"\n\tpath = a\n',
  '[submodule "a"]\n\tpath = a\\-b\n',
  '[submodule "a"]\n\tpath = "open\n',
  '[submodule "a"]\n\tpath = -before-error\n\t= nothing\n',
  '\xef\xbbpartial bom\n',
  '[submodule "a"]\n\tpath = -x\xff\n\tpath = -y\n',
  '[submodule "a"]\n\tpath = a\r\xff\n\tpath = -y\n',
  '[submodule "\xe4"]\n\tpath = -\xe4\n',
  'key = value\n[submodule "a"]\n\tpath = line\\\n continued\n',
];

interface Report {
  level: string;
  id: string;
  message: string;
}

describe('.gitmodules checks', () => {
  it('agree with `git fsck --strict` on every sample', () => {
    const scratch = tempDir();
    try {
      const gitdir = path.join(scratch.dir, 's.git');
      git(['init', '-q', '--bare', gitdir]);
      const blobs = SAMPLES.map((text) => {
        const content = Buffer.from(text, 'latin1');
        const oid = git(['--git-dir', gitdir, 'hash-object', '-w', '--stdin'], { input: content });
        const tree = Buffer.concat([Buffer.from('100644 .gitmodules\0'), Buffer.from(oid, 'hex')]);
        git(['--git-dir', gitdir, 'hash-object', '-t', 'tree', '--literally', '-w', '--stdin'], { input: tree });
        return { text, oid, content };
      });
      const out = gitRaw(['--git-dir', gitdir, 'fsck', '--strict', '--no-dangling']).stderr;
      const theirs = new Map<string, Report[]>();
      for (const m of out.matchAll(/^(error|warning) in blob ([0-9a-f]{40}): (\w+): (.*)$/gm)) {
        theirs.set(m[2]!, [...(theirs.get(m[2]!) ?? []), { level: m[1]!, id: m[3]!, message: m[4]! }]);
      }
      const rows = blobs.map(({ text, oid, content }) => ({
        text,
        ours: fsckSpecialBlob('gitmodules', oid, 'blob', content, DEFAULT_FSCK_POLICY).map((f) => ({
          level: f.outcome === 'error' ? 'error' : 'warning',
          id: f.id,
          message: f.message,
        })),
        theirs: theirs.get(oid) ?? [],
      }));
      const sort = (r: Report[]) => [...r].sort((a, b) => `${a.id}${a.message}`.localeCompare(`${b.id}${b.message}`));
      expect(rows.map((r) => ({ text: r.text, reports: sort(r.ours) }))).toEqual(rows.map((r) => ({ text: r.text, reports: sort(r.theirs) })));
      // the samples cover every .gitmodules finding
      const ids = new Set(rows.flatMap((r) => r.ours.map((o) => o.id)));
      expect([...ids].sort()).toEqual(['gitmodulesName', 'gitmodulesParse', 'gitmodulesPath', 'gitmodulesUpdate', 'gitmodulesUrl']);
    } finally {
      scratch.cleanup();
    }
  });

  it('normalizes URLs as git does', () => {
    expect(urlNormalize('HTTPS://User@Example.COM:0443/a/./b/../c/%7e?q=%41')).toBe('https://User@example.com/a/c/~?q=A');
    expect(urlNormalize('http://h:080/')).toBe('http://h/');
    expect(urlNormalize('http://h:8080')).toBe('http://h:8080/');
    expect(urlNormalize('http://h/../x')).toBeNull();
    expect(urlNormalize('http://h/%zz')).toBeNull();
    expect(urlNormalize('http://h:0/')).toBeNull();
    expect(urlNormalize('file:///tmp/x')).toBe('file:///tmp/x');
    expect(urlNormalize('file://:1/x')).toBeNull();
    expect(urlNormalize('no-scheme')).toBeNull();
  });
});
