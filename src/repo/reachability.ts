// Which objects a fetch must send: everything reachable from the wants that is not
// reachable from what the client has. Like C Git's rev-list --objects with "edge"
// uninteresting commits: trees of boundary commits are marked as already present.
import { GitgateError } from '../errors.js';
import type { ObjectType } from '../pack/types.js';
import { parseCommit, parseTag, parseTree } from './objects.js';
import type { ObjectStore } from './object-store.js';

export interface ObjectToSend {
  oid: string;
  type: ObjectType;
}

async function mustRead(store: ObjectStore, oid: string) {
  const obj = await store.read(oid);
  if (!obj) throw new GitgateError('OBJECT_NOT_FOUND', { oid });
  return obj;
}

/** Every commit reachable from `starts` (commits only; missing starts ignored). */
export async function reachableCommits(store: ObjectStore, starts: string[]): Promise<Set<string>> {
  const seen = new Set<string>();
  const stack: string[] = [];
  for (const oid of starts) {
    const obj = await store.read(oid);
    if (!obj) continue;
    const commit = await peelToCommit(store, oid, obj.type, obj.content);
    if (commit && !seen.has(commit)) {
      seen.add(commit);
      stack.push(commit);
    }
  }
  while (stack.length) {
    const oid = stack.pop()!;
    const { content } = await mustRead(store, oid);
    for (const parent of parseCommit(content).parents) {
      if (!seen.has(parent)) {
        seen.add(parent);
        stack.push(parent);
      }
    }
  }
  return seen;
}

async function peelToCommit(store: ObjectStore, oid: string, type: ObjectType, content: Buffer): Promise<string | null> {
  for (let depth = 0; depth < 16; depth++) {
    if (type === 'commit') return oid;
    if (type !== 'tag') return null;
    const tag = parseTag(content);
    const next = await store.read(tag.object);
    if (!next) return null;
    oid = tag.object;
    type = next.type;
    content = next.content;
  }
  return null;
}

/** Mark a tree and everything under it as already present on the client. */
async function markTreeUninteresting(store: ObjectStore, tree: string, uninteresting: Set<string>): Promise<void> {
  const stack = [tree];
  while (stack.length) {
    const oid = stack.pop()!;
    if (uninteresting.has(oid)) continue;
    uninteresting.add(oid);
    const obj = await store.read(oid);
    if (!obj) continue;
    for (const entry of parseTree(obj.content)) {
      if (entry.mode === '160000') continue;
      if (entry.mode === '40000') stack.push(entry.oid);
      else uninteresting.add(entry.oid);
    }
  }
}

export interface WalkOptions {
  /** Commits the client says it has (only those we have count). */
  haves: string[];
}

/**
 * List the objects to pack, commits first then tags, trees and blobs in traversal order,
 * which keeps each tree next to its blobs as C Git does.
 */
export async function objectsToSend(store: ObjectStore, wants: string[], opts: WalkOptions): Promise<ObjectToSend[]> {
  const haveCommits = await reachableCommits(store, opts.haves);
  const uninteresting = new Set<string>();
  const commits: ObjectToSend[] = [];
  const others: ObjectToSend[] = [];
  const queued = new Set<string>();
  const trees: string[] = [];
  const stack: string[] = [];

  for (const want of wants) {
    if (queued.has(want)) continue;
    const obj = await mustRead(store, want);
    queued.add(want);
    let oid = want;
    let { type, content } = obj;
    // Annotated tags (possibly nested) are sent with whatever they point at.
    while (type === 'tag') {
      others.push({ oid, type });
      oid = parseTag(content).object;
      if (queued.has(oid)) break;
      queued.add(oid);
      ({ type, content } = await mustRead(store, oid));
    }
    if (type === 'commit') {
      if (!haveCommits.has(oid)) stack.push(oid);
      else queued.delete(oid);
    } else if (type === 'tree') trees.push(oid);
    else if (type === 'blob') others.push({ oid, type });
  }

  const boundary = new Set<string>();
  while (stack.length) {
    const oid = stack.pop()!;
    const commit = parseCommit((await mustRead(store, oid)).content);
    commits.push({ oid, type: 'commit' });
    trees.push(commit.tree);
    for (const parent of commit.parents) {
      if (haveCommits.has(parent)) boundary.add(parent);
      else if (!queued.has(parent)) {
        queued.add(parent);
        stack.push(parent);
      }
    }
  }
  for (const oid of boundary) {
    const commit = parseCommit((await mustRead(store, oid)).content);
    await markTreeUninteresting(store, commit.tree, uninteresting);
  }

  const sentTrees = new Set<string>();
  for (const root of trees) {
    const treeStack = [root];
    while (treeStack.length) {
      const oid = treeStack.pop()!;
      if (sentTrees.has(oid) || uninteresting.has(oid)) continue;
      sentTrees.add(oid);
      others.push({ oid, type: 'tree' });
      const entries = parseTree((await mustRead(store, oid)).content);
      for (let i = entries.length - 1; i >= 0; i--) {
        const entry = entries[i]!;
        if (entry.mode === '160000') continue;
        if (entry.mode === '40000') treeStack.push(entry.oid);
        else if (!uninteresting.has(entry.oid) && !queued.has(entry.oid)) {
          queued.add(entry.oid);
          others.push({ oid: entry.oid, type: 'blob' });
        }
      }
    }
  }
  return [...commits, ...others];
}
