// Builds commits for REST writes with isomorphic-git's object writers over the repository's
// storage (works on node fs and memfs alike).
import type { Repository } from '../repo/repository.js';

export interface FileContent {
  path: string;
  content: Buffer;
  mode?: '100644' | '100755';
}

export interface Signature {
  name: string;
  email: string;
}

interface DirNode {
  files: Map<string, { oid: string; mode: string }>;
  dirs: Map<string, DirNode>;
}

const newDir = (): DirNode => ({ files: new Map(), dirs: new Map() });

/** Write blobs and trees for a full snapshot; returns the root tree id. */
// isomorphic-git is loaded on first use: servers that never build commits skip its RSS.
async function isoGit() {
  return (await import('isomorphic-git')).default;
}

export async function writeSnapshotTree(repo: Repository, files: FileContent[]): Promise<string> {
  const git = await isoGit();
  const fs = repo.storage.fs;
  const gitdir = repo.gitdir;
  const root = newDir();
  for (const file of files) {
    const parts = file.path.split('/');
    let dir = root;
    for (const part of parts.slice(0, -1)) {
      let next = dir.dirs.get(part);
      if (!next) dir.dirs.set(part, (next = newDir()));
      dir = next;
    }
    const oid = await git.writeBlob({ fs, gitdir, blob: file.content });
    dir.files.set(parts[parts.length - 1]!, { oid, mode: file.mode ?? '100644' });
  }
  const writeDir = async (dir: DirNode): Promise<string> => {
    const tree: { mode: string; path: string; oid: string; type: 'blob' | 'tree' }[] = [];
    for (const [name, f] of dir.files) tree.push({ mode: f.mode, path: name, oid: f.oid, type: 'blob' });
    for (const [name, d] of dir.dirs) tree.push({ mode: '040000', path: name, oid: await writeDir(d), type: 'tree' });
    return git.writeTree({ fs, gitdir, tree });
  };
  return writeDir(root);
}

export async function writeCommitObject(
  repo: Repository,
  opts: { tree: string; parents: string[]; message: string; author: Signature; when?: Date },
): Promise<string> {
  const git = await isoGit();
  const when = opts.when ?? new Date();
  const sig = {
    name: opts.author.name,
    email: opts.author.email,
    timestamp: Math.floor(when.getTime() / 1000),
    timezoneOffset: 0,
  };
  return git.writeCommit({
    fs: repo.storage.fs,
    gitdir: repo.gitdir,
    commit: { message: opts.message.endsWith('\n') ? opts.message : `${opts.message}\n`, tree: opts.tree, parent: opts.parents, author: sig, committer: sig },
  });
}
