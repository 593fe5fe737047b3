// fsck_commit (fsck.c): tree, parents, exactly one author, committer, no NUL in the body.
import { fsckIdent, nextLine, oidLineAt, skipPrefix, verifyHeaders } from './headers.js';
import type { Reporter } from './reporter.js';

export function fsckCommit(buf: Buffer, r: Reporter): void {
  if (!verifyHeaders(buf, r)) return;
  let p = skipPrefix(buf, 0, 'tree ');
  if (p < 0) {
    r.report('missingTree', "invalid format - expected 'tree' line");
    return;
  }
  if (!oidLineAt(buf, p) && r.report('badTreeSha1', "invalid 'tree' line format - bad sha1")) return;
  p = nextLine(buf, p);
  for (let q = skipPrefix(buf, p, 'parent '); q >= 0; q = skipPrefix(buf, p, 'parent ')) {
    if (!oidLineAt(buf, q) && r.report('badParentSha1', "invalid 'parent' line format - bad sha1")) return;
    p = nextLine(buf, q);
  }
  let authors = 0;
  for (let q = skipPrefix(buf, p, 'author '); q >= 0; q = skipPrefix(buf, p, 'author ')) {
    authors++;
    const ident = fsckIdent(buf, q, r);
    if (ident.error) return;
    p = ident.next;
  }
  if (authors < 1 && r.report('missingAuthor', "invalid format - expected 'author' line")) return;
  if (authors > 1 && r.report('multipleAuthors', "invalid format - multiple 'author' lines")) return;
  const q = skipPrefix(buf, p, 'committer ');
  if (q < 0) {
    r.report('missingCommitter', "invalid format - expected 'committer' line");
    return;
  }
  if (fsckIdent(buf, q, r).error) return;
  if (buf.includes(0)) r.report('nulInCommit', 'NUL byte in the commit object body');
}
