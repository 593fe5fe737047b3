// Reading and editing Git trees for the content API, over gitgate's own object store.
// TreeEditor applies path-level edits to a commit's tree lazily (only directories on an
// edited path are read) and builds the new trees in memory; nothing touches the disk until
// the caller has validated the whole request and calls writeObjects().
import { isUtf8 } from 'node:buffer';
import { GitgateError } from '../../errors.js';
import { isOid } from '../../oid.js';
import { hashObject, type ObjectType } from '../../pack/types.js';
import { checkObject } from '../../repo/fsck/index.js';
import { isTreeMode, parseTree, serializeTree, type TreeEntry } from '../../repo/objects/tree.js';
import { parseCommit } from '../../repo/objects/commit.js';
import { isValidRefName } from '../../repo/ref-names.js';
import type { Repository } from '../../repo/repository.js';
import type { WantPolicy } from '../../protocol/fetch-core.js';
import { isReachable } from '../revision.js';

export const EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';
export const TREE_MODE = '40000';
export const FILE_MODE = '100644';
export const EXEC_MODE = '100755';

/** A regular file (or executable); symlinks and submodules are not "files" for the content API. */
export function isRegularFileMode(mode: string): boolean {
  const m = parseInt(mode, 8) & 0o170000;
  return m === 0o100000;
}

/** Binary, as the content API sees it: a NUL in the first 8000 bytes (git's heuristic) or not UTF-8. */
export function isBinary(content: Buffer): boolean {
  if (content.subarray(0, 8000).includes(0)) return true;
  return !isUtf8(content);
}

// ---------------------------------------------------------------------------------------------
// reading

export async function readObjectOfType(repo: Repository, oid: string, type: ObjectType): Promise<Buffer> {
  const obj = await repo.objects.read(oid);
  if (!obj) throw new GitgateError('OBJECT_NOT_FOUND', { oid });
  if (obj.type !== type) throw new GitgateError('CORRUPT_REPO', { detail: `object ${oid} is a ${obj.type}, expected a ${type}` });
  return obj.content;
}

export async function readTree(repo: Repository, oid: string): Promise<TreeEntry[]> {
  return parseTree(await readObjectOfType(repo, oid, 'tree'));
}

export async function commitTree(repo: Repository, commit: string): Promise<string> {
  return parseCommit(await readObjectOfType(repo, commit, 'commit')).tree;
}

export interface FileEntry {
  path: string;
  mode: string;
  oid: string;
}

/** Every non-tree entry under `tree`, depth first in tree order (which is path order for files). */
export async function listFiles(repo: Repository, tree: string | null, prefix = ''): Promise<FileEntry[]> {
  const out: FileEntry[] = [];
  if (tree === null) return out;
  const walk = async (oid: string, base: string): Promise<void> => {
    for (const e of await readTree(repo, oid)) {
      const path = base + e.name;
      if (isTreeMode(e.mode)) await walk(e.oid, `${path}/`);
      else out.push({ path, mode: e.mode, oid: e.oid });
    }
  };
  await walk(tree, prefix);
  return out;
}

/** The entry at `path` in `tree` (file or directory), or null. */
export async function lookupPath(repo: Repository, tree: string | null, path: string): Promise<TreeEntry | null> {
  if (tree === null) return null;
  const parts = path.split('/');
  let current = tree;
  for (let i = 0; i < parts.length; i++) {
    const entry = (await readTree(repo, current)).find((e) => e.name === parts[i]);
    if (!entry) return null;
    if (i === parts.length - 1) return entry;
    if (!isTreeMode(entry.mode)) return null;
    current = entry.oid;
  }
  return null;
}

export interface Side {
  path: string;
  mode: string;
  oid: string;
}

/** A file that differs between two trees. 'changed': its file type changed (file, symlink, submodule). */
export interface FileDiff {
  status: 'added' | 'removed' | 'modified' | 'changed';
  old: Side | null;
  new: Side | null;
}

/** The file type bits of a mode (regular file, symlink, gitlink). */
export function fileType(mode: string): number {
  return parseInt(mode, 8) & 0o170000;
}

/**
 * Files added, removed, modified (content or mode) or type-changed between two trees, in
 * bytewise path order (tree order for full paths). Identical subtrees are skipped. The one tree
 * walk behind REST writes' changed_files (diffTrees) and compare's file list (compare/tree-changes.ts).
 */
export async function fileDiffs(repo: Repository, a: string | null, b: string | null): Promise<FileDiff[]> {
  const out: FileDiff[] = [];
  const walk = async (x: string | null, y: string | null, prefix: string): Promise<void> => {
    if (x === y) return;
    const xs = new Map((x ? await readTree(repo, x) : []).map((e) => [e.name, e]));
    const ys = new Map((y ? await readTree(repo, y) : []).map((e) => [e.name, e]));
    for (const name of new Set([...xs.keys(), ...ys.keys()])) {
      const ex = xs.get(name);
      const ey = ys.get(name);
      const path = prefix + name;
      const xTree = !!ex && isTreeMode(ex.mode);
      const yTree = !!ey && isTreeMode(ey.mode);
      if (xTree || yTree) await walk(xTree ? ex.oid : null, yTree ? ey.oid : null, `${path}/`);
      const xf = ex && !xTree ? { path, mode: ex.mode, oid: ex.oid } : null;
      const yf = ey && !yTree ? { path, mode: ey.mode, oid: ey.oid } : null;
      if (xf && yf) {
        if (xf.oid === yf.oid && xf.mode === yf.mode) continue;
        out.push({ status: fileType(xf.mode) !== fileType(yf.mode) ? 'changed' : 'modified', old: xf, new: yf });
      } else if (xf) out.push({ status: 'removed', old: xf, new: null });
      else if (yf) out.push({ status: 'added', old: null, new: yf });
    }
  };
  await walk(a, b, '');
  return out
    .map((c) => ({ c, key: Buffer.from((c.new ?? c.old)!.path) }))
    .sort((p, q) => Buffer.compare(p.key, q.key))
    .map((e) => e.c);
}

export type ChangeStatus = 'A' | 'M' | 'D';
export interface Change {
  path: string;
  status: ChangeStatus;
}

const CHANGE_STATUS: Record<FileDiff['status'], ChangeStatus> = { added: 'A', removed: 'D', modified: 'M', changed: 'M' };

/** fileDiffs as the REST writes report them: A, M or D per path, sorted by path (as a JS string). */
export async function diffTrees(repo: Repository, a: string | null, b: string | null): Promise<Change[]> {
  const out = (await fileDiffs(repo, a, b)).map((d) => ({ path: (d.new ?? d.old)!.path, status: CHANGE_STATUS[d.status] }));
  return out.sort((p, q) => (p.path < q.path ? -1 : p.path > q.path ? 1 : 0));
}

// ---------------------------------------------------------------------------------------------
// which commit a read looks at

export interface CommitSelector {
  commit?: string | null;
  branch?: string | null;
  /** Which commit ids may be read (default: only those a ref reaches); see wantPolicy(). */
  reach?: WantPolicy;
}

/** 400 for a malformed id. */
export function parseCommitId(raw: string, field = 'commit'): string {
  const oid = raw.trim().toLowerCase();
  if (!isOid(oid)) throw new GitgateError('VALIDATION', { detail: `${field} must be a full 40-character hexadecimal commit id` });
  return oid;
}

/**
 * The commit a read should use: an explicit commit (404 COMMIT_NOT_FOUND when it is not a commit of
 * this repository or no ref reaches it: a fetch could not get it either), a branch (404
 * BRANCH_NOT_FOUND), or HEAD. Null for an empty repository.
 */
export async function resolveReadCommit(repo: Repository, sel: CommitSelector = {}): Promise<string | null> {
  if (sel.commit) {
    const oid = parseCommitId(sel.commit);
    const info = await repo.objects.readType(oid);
    if (!info || info.type !== 'commit' || !(await isReachable(repo, oid, sel.reach))) throw new GitgateError('COMMIT_NOT_FOUND', { commit: oid });
    return oid;
  }
  if (sel.branch) {
    const ref = sel.branch.startsWith('refs/heads/') ? sel.branch : `refs/heads/${sel.branch}`;
    if (!isValidRefName(ref)) throw new GitgateError('BAD_REF_NAME', { ref: sel.branch.slice(0, 200) });
    const oid = await repo.refs.resolve(ref);
    if (!oid) throw new GitgateError('BRANCH_NOT_FOUND', { branch: sel.branch });
    return oid;
  }
  return repo.refs.resolve('HEAD');
}

// ---------------------------------------------------------------------------------------------
// editing

export interface PendingObject {
  type: ObjectType;
  content: Buffer;
}

/**
 * The one way the content API stores what it built (TreeEditor.build, mergeTrees): every tree
 * must pass the fsck tree check first (a last line of defence behind contentPath: names git
 * refuses, e.g. NTFS aliases of .git), then all go through the repository's one inserter
 * (objects already present are skipped there).
 */
export async function writeObjects(repo: Repository, objects: PendingObject[]): Promise<void> {
  for (const o of objects) {
    if (o.type !== 'tree') continue;
    const problem = checkObject('tree', o.content);
    if (problem) throw new GitgateError('BAD_PATH', { detail: problem });
  }
  for (const o of objects) await repo.objects.inserter.insert(o.type, o.content);
}

export class Dir {
  /** Entries by name, loaded on first use. Subdirectories held in `subdirs` override their entry's oid. */
  entries: Map<string, TreeEntry> | null = null;
  subdirs = new Map<string, Dir>();
  dirty = false;
  constructor(readonly oid: string | null) {}
}

/** What take() removed: an entry, and its directory state when it is a directory already being edited. */
export interface Taken {
  entry: TreeEntry;
  dir?: Dir;
}

export class TreeEditor {
  private readonly root: Dir;
  private readonly blobs = new Map<string, Buffer>();

  constructor(
    private readonly repo: Repository,
    readonly baseTree: string | null,
  ) {
    this.root = new Dir(baseTree);
  }

  /** Hash a blob now; it is written by writeObjects() only. */
  addBlob(content: Buffer): string {
    const oid = hashObject('blob', content).toString('hex');
    this.blobs.set(oid, content);
    return oid;
  }

  /** The entry at `path` as edited so far (directories report mode 40000), or null. */
  async get(path: string): Promise<TreeEntry | null> {
    const { parent, name } = await this.parentOf(path, false);
    if (!parent) return null;
    return (await this.load(parent)).get(name) ?? null;
  }

  /** Create or replace a file. BAD_PATH when a parent is a file or `path` is a directory. */
  async setFile(path: string, mode: string, oid: string): Promise<void> {
    const { parent, name, chain } = await this.parentOf(path, true);
    const entries = await this.load(parent!);
    const existing = entries.get(name);
    if (existing && isTreeMode(existing.mode)) throw new GitgateError('BAD_PATH', { detail: `${path} is a directory` });
    entries.set(name, { mode, name, oid });
    for (const d of chain) d.dirty = true;
  }

  /** Remove a file or a whole directory; false when nothing is there. */
  async remove(path: string): Promise<boolean> {
    return (await this.take(path)) !== null;
  }

  /** Remove and return what is at `path` (file or directory). */
  async take(path: string): Promise<Taken | null> {
    const { parent, name, chain } = await this.parentOf(path, false);
    if (!parent) return null;
    const entries = await this.load(parent);
    const entry = entries.get(name);
    if (!entry) return null;
    entries.delete(name);
    const dir = parent.subdirs.get(name);
    parent.subdirs.delete(name);
    for (const d of chain) d.dirty = true;
    return dir ? { entry, dir } : { entry };
  }

  /** Put what take() returned at `path`, replacing a file there. BAD_PATH when `path` is a directory. */
  async put(path: string, taken: Taken): Promise<void> {
    const { parent, name, chain } = await this.parentOf(path, true);
    const entries = await this.load(parent!);
    const existing = entries.get(name);
    if (existing && isTreeMode(existing.mode)) throw new GitgateError('BAD_PATH', { detail: `${path} is a directory` });
    entries.set(name, { ...taken.entry, name });
    if (taken.dir) parent!.subdirs.set(name, taken.dir);
    for (const d of chain) d.dirty = true;
  }

  /**
   * The new root tree id and the objects (blobs, trees) that make it up and may be new. Empty
   * directories disappear, as in Git; an empty root is the empty tree.
   */
  async build(): Promise<{ tree: string; objects: PendingObject[] }> {
    const objects: PendingObject[] = [];
    for (const [, content] of this.blobs) objects.push({ type: 'blob', content });
    const buildDir = async (dir: Dir): Promise<string | null> => {
      if (!dir.dirty) return dir.oid;
      const entries = await this.load(dir);
      for (const [name, sub] of dir.subdirs) {
        const oid = await buildDir(sub);
        if (oid === null || oid === EMPTY_TREE) entries.delete(name);
        else entries.set(name, { ...entries.get(name)!, mode: TREE_MODE, oid });
      }
      dir.subdirs.clear();
      if (entries.size === 0) return null;
      const content = serializeTree([...entries.values()]);
      objects.push({ type: 'tree', content });
      return hashObject('tree', content).toString('hex');
    };
    let tree = await buildDir(this.root);
    if (tree === null) {
      tree = EMPTY_TREE;
      objects.push({ type: 'tree', content: Buffer.alloc(0) });
    }
    return { tree, objects };
  }

  private async load(dir: Dir): Promise<Map<string, TreeEntry>> {
    if (!dir.entries) {
      dir.entries = new Map((dir.oid && dir.oid !== EMPTY_TREE ? await readTree(this.repo, dir.oid) : []).map((e) => [e.name, e]));
    }
    return dir.entries;
  }

  /** The directory holding `path`'s last component; with `create`, missing directories are made. */
  private async parentOf(path: string, create: boolean): Promise<{ parent: Dir | null; name: string; chain: Dir[] }> {
    const parts = path.split('/');
    const name = parts.pop()!;
    let dir = this.root;
    const chain = [dir];
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      const entries = await this.load(dir);
      let sub = dir.subdirs.get(part);
      if (!sub) {
        const entry = entries.get(part);
        if (entry && !isTreeMode(entry.mode)) {
          if (!create) return { parent: null, name, chain };
          throw new GitgateError('BAD_PATH', { detail: `${parts.slice(0, i + 1).join('/')} is a file, not a directory` });
        }
        if (!entry) {
          if (!create) return { parent: null, name, chain };
          entries.set(part, { mode: TREE_MODE, name: part, oid: EMPTY_TREE });
          sub = new Dir(null);
          sub.entries = new Map();
        } else {
          sub = new Dir(entry.oid);
        }
        dir.subdirs.set(part, sub);
      }
      dir = sub;
      chain.push(dir);
    }
    return { parent: dir, name, chain };
  }
}
