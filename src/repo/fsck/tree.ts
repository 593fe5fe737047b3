// fsck_tree (fsck.c): entry names, modes, order and duplicates, plus the names of blobs that
// need a look of their own (.gitmodules, .gitattributes) once the pack is complete.
import type { FsckMsgId } from './messages.js';
import {
  isHfsDotGit,
  isHfsDotGitattributes,
  isHfsDotGitignore,
  isHfsDotGitmodules,
  isHfsDotMailmap,
  isNtfsDotGit,
  isNtfsDotGitattributes,
  isNtfsDotGitignore,
  isNtfsDotGitmodules,
  isNtfsDotMailmap,
} from './names.js';
import type { Reporter } from './reporter.js';

/** Blobs named by trees for a content check (fsck_options.gitmodules_found / gitattributes_found). */
export interface SpecialBlobs {
  gitmodules: Set<string>;
  gitattributes: Set<string>;
}

interface Entry {
  mode: number;
  zeroPadded: boolean;
  name: Buffer;
  /** Offset of the raw 20-byte id in the tree: hex only for the few entries that need it. */
  oidAt: number;
  end: number;
}

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const isDir = (mode: number) => (mode & S_IFMT) === S_IFDIR;

/** decode_tree_entry with raw modes; null where git says "cannot be parsed as a tree". */
function decode(buf: Buffer, pos: number): Entry | null {
  if (buf.length - pos < 23 || buf[buf.length - 21] !== 0) return null;
  if (buf[pos] === 0x20) return null;
  let mode = 0;
  let p = pos;
  for (; p < buf.length && buf[p] !== 0x20; p++) {
    const c = buf[p]!;
    if (c < 0x30 || c > 0x37) return null;
    mode = ((mode << 3) + (c - 0x30)) & 0xffff; // uint16_t, as git keeps it
  }
  if (p >= buf.length) return null;
  const nul = buf.indexOf(0, p + 1);
  if (nul === p + 1 || nul < 0 || nul + 21 > buf.length) return null; // empty name
  return { mode, zeroPadded: buf[pos] === 0x30, name: buf.subarray(p + 1, nul), oidAt: nul + 1, end: nul + 21 };
}


// reported after the walk, in fsck_tree's order
const FLAG_MESSAGES: [FsckMsgId, string][] = [
  ['nullSha1', 'contains entries pointing to null sha1'],
  ['fullPathname', 'contains full pathnames'],
  ['emptyName', 'contains empty pathname'],
  ['hasDot', "contains '.'"],
  ['hasDotdot', "contains '..'"],
  ['hasDotgit', "contains '.git'"],
  ['zeroPaddedFilemode', 'contains zero-padded file modes'],
  ['badFilemode', 'contains bad file modes'],
  ['duplicateEntries', 'contains duplicate file entries'],
  ['treeNotSorted', 'not properly sorted'],
  ['largePathname', 'contains excessively large pathname'],
];

export function fsckTree(buf: Buffer, r: Reporter, found: SpecialBlobs): void {
  let entry = buf.length > 0 ? decode(buf, 0) : null;
  if (buf.length > 0 && !entry) {
    r.report('badTree', 'cannot be parsed as a tree');
    return;
  }
  const flags = new Set<FsckMsgId>();
  const candidates: Buffer[] = [];
  let prev: Entry | null = null;
  while (entry) {
    const { mode, name: nameBytes, oidAt } = entry;
    const symlink = (mode & S_IFMT) === S_IFLNK;
    if (isZeroId(buf, oidAt)) flags.add('nullSha1');
    if (nameBytes.includes(0x2f)) flags.add('fullPathname');
    if (nameBytes.length === 0) flags.add('emptyName');
    if (nameBytes.length === 1 && nameBytes[0] === 0x2e) flags.add('hasDot');
    if (nameBytes.length === 2 && nameBytes[0] === 0x2e && nameBytes[1] === 0x2e) flags.add('hasDotdot');
    if (entry.zeroPadded) flags.add('zeroPaddedFilemode');
    if (nameBytes.length > r.maxPathnameLength) flags.add('largePathname');
    // every alias of .git & co starts with '.' (after HFS-ignored code points, all non-ASCII)
    // or is an 8.3 short name with '~': most names need none of the checks below
    const first = nameBytes[0] ?? 0;
    if (first === 0x2e || first >= 0x80 || nameBytes.includes(0x7e)) {
      const name = nameBytes.toString('utf8');
      if (isHfsDotGit(name) || isNtfsDotGit(name)) flags.add('hasDotgit');
      if (isHfsDotGitmodules(name) || isNtfsDotGitmodules(name)) {
        if (!symlink) found.gitmodules.add(buf.toString('hex', oidAt, oidAt + 20));
        else r.report('gitmodulesSymlink', '.gitmodules is a symbolic link');
      }
      if (isHfsDotGitattributes(name) || isNtfsDotGitattributes(name)) {
        if (!symlink) found.gitattributes.add(buf.toString('hex', oidAt, oidAt + 20));
        else r.report('gitattributesSymlink', '.gitattributes is a symlink');
      }
      if (symlink) {
        if (isHfsDotGitignore(name) || isNtfsDotGitignore(name)) r.report('gitignoreSymlink', '.gitignore is a symlink');
        if (isHfsDotMailmap(name) || isNtfsDotMailmap(name)) r.report('mailmapSymlink', '.mailmap is a symlink');
      }
    }
    // Windows treats '\' as a separator, so every backslash-separated tail is checked too
    if (nameBytes.includes(0x5c)) {
      const name = nameBytes.toString('utf8');
      for (let i = name.indexOf('\\'); i >= 0; i = name.indexOf('\\', i + 1)) {
        const tail = name.slice(i + 1);
        if (isNtfsDotGit(tail)) flags.add('hasDotgit');
        if (isNtfsDotGitmodules(tail)) {
          if (!symlink) found.gitmodules.add(buf.toString('hex', oidAt, oidAt + 20));
          else r.report('gitmodulesSymlink', '.gitmodules is a symbolic link');
        }
      }
    }
    const next = entry.end < buf.length ? decode(buf, entry.end) : null;
    if (entry.end < buf.length && !next) {
      r.report('badTree', 'cannot be parsed as a tree');
      break;
    }
    // 100664 was written by early git; receive.fsckObjects (strict) reports it
    if (mode !== 0o100755 && mode !== 0o100644 && mode !== S_IFLNK && mode !== S_IFDIR && mode !== 0o160000) flags.add('badFilemode');
    if (prev) {
      const order = verifyOrdered(prev.mode, prev.name, mode, nameBytes, candidates);
      if (order === 'unordered') flags.add('treeNotSorted');
      else if (order === 'dups') flags.add('duplicateEntries');
    }
    prev = entry;
    entry = next;
  }
  for (const [id, message] of FLAG_MESSAGES) if (flags.has(id)) r.report(id, message);
}

function isZeroId(buf: Buffer, at: number): boolean {
  for (let i = at; i < at + 20; i++) if (buf[i] !== 0) return false;
  return true;
}

const lessThanSlash = (c: number) => c > 0 && c < 0x2f;

/**
 * verify_ordered: entries sort as if directory names ended in '/'. A file and a directory of
 * the same name need not be adjacent ("foo", "foo.bar", "foo/"), so files that could still
 * meet a same-named directory wait on a stack.
 */
function verifyOrdered(mode1: number, name1: Buffer, mode2: number, name2: Buffer, candidates: Buffer[]): 'ok' | 'unordered' | 'dups' {
  const len = Math.min(name1.length, name2.length);
  const cmp = name1.compare(name2, 0, len, 0, len);
  if (cmp < 0) return 'ok';
  if (cmp > 0) return 'unordered';
  let c1 = name1[len] ?? 0;
  let c2 = name2[len] ?? 0;
  if (!c1 && !c2) return 'dups';
  if (!c1 && isDir(mode1)) c1 = 0x2f;
  if (!c2 && isDir(mode2)) c2 = 0x2f;
  if (!c1 && lessThanSlash(c2)) {
    candidates.push(name1);
  } else if (c2 === 0x2f && lessThanSlash(c1)) {
    for (;;) {
      const f = candidates.pop();
      if (!f) break;
      if (f.length > name2.length || name2.compare(f, 0, f.length, 0, f.length) !== 0) continue;
      if (f.length === name2.length) return 'dups';
      if (lessThanSlash(name2[f.length]!)) {
        candidates.push(f);
        break;
      }
    }
  }
  return c1 < c2 ? 'ok' : 'unordered';
}
