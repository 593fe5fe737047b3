// Which objects a fetch must send: everything reachable from the wants that is not
// reachable from what the client has, like `git rev-list --objects --not <haves>` with
// "edge" commits whose trees count as present, shallow grafts, and partial-clone filters.
import { GitgateError } from '../errors.js';
import type { PackFile } from '../pack/pack-file.js';
import type { PackReuse } from '../pack/pack-reuse.js';
import type { ObjectType } from '../pack/types.js';
import { CommitReader, commitRange, type CommitInfo } from './commit-walk.js';
import { keepBlob, keepTree, type ObjectFilter } from './object-filter.js';
import type { ObjectDatabase } from './object-database.js';
import { OidSet } from './oid-set.js';
import { TREE_ENTRY_GITLINK, TREE_ENTRY_TREE, TreeScanner } from './objects/tree-scanner.js';
import { isTreeMode, parseTree } from './objects/tree.js';
import { parseTag } from './objects/tag.js';
import { TreeMemo } from './tree-memo.js';
import { WalkIds } from './walk-ids.js';

export interface ObjectToSend {
  oid: string;
  type: ObjectType;
}

export interface WalkOptions {
  /** Commits the client has (only those we have count). */
  haves: string[];
  /** Commits treated as parentless (client and new shallow boundaries). */
  grafts?: ReadonlySet<string>;
  /** Extra commits to walk (parents of deepened commits). */
  extraWants?: string[];
  /** Extra commits whose trees the client has (deepened commits). */
  extraEdges?: string[];
  filter?: ObjectFilter | null;
  /** Kept up to date with the number of objects listed so far (progress reports). */
  progress?: { objects: number };
}

/** Membership by hex object id. */
export interface OidLookup {
  has(oid: string): boolean;
}

export interface SendPlan {
  objects: ObjectToSend[];
  /**
   * Packs every object of which is sent too, without being listed in `objects` (a bitmap
   * showed the whole pack is wanted: a full clone). Sent first, copied as they are stored.
   */
  wholePacks?: PackFile[];
  /**
   * Entries of one stored pack sent as a copied run, not listed in `objects` (a bitmap showed
   * which: a full clone of a pack that also holds objects not wanted). Sent first.
   */
  reuse?: PackReuse;
  /** Where the first objects are stored, when the planner knows (bitmaps): offsets in `pack`, in list order. */
  located?: { pack: PackFile; offsets: Float64Array };
  /** Trees and blobs known to be on the client: bases a thin pack may delta against. */
  clientHas: OidLookup;
  /** Sent tree or blob → the client's version of it (same path in a have commit's tree). */
  deltaBases?: ReadonlyMap<string, string>;
  commitCount: number;
}

async function mustRead(store: ObjectDatabase, oid: string) {
  const obj = await store.read(oid);
  if (!obj) throw new GitgateError('OBJECT_NOT_FOUND', { oid });
  return obj;
}

async function peelAll(store: ObjectDatabase, oids: string[]): Promise<string[]> {
  const out: string[] = [];
  for (let oid of oids) {
    for (let depth = 0; depth < 16; depth++) {
      const obj = await store.read(oid);
      if (!obj) break;
      if (obj.type === 'commit') {
        out.push(oid);
        break;
      }
      if (obj.type !== 'tag') break;
      oid = parseTag(obj.content).object;
    }
  }
  return out;
}

/** Mark a tree and everything under it as present on the client. */
async function markTreePresent(store: ObjectDatabase, tree: string, present: OidSet, scanner: TreeScanner): Promise<void> {
  const stack = [tree];
  while (stack.length) {
    const oid = stack.pop()!;
    if (!present.addHex(oid)) continue;
    const obj = await store.read(oid);
    if (!obj) continue; // a partial client may lack it; nothing below is then known
    const content = obj.content;
    const n = scanner.scan(content);
    for (let i = 0; i < n; i++) {
      const kind = scanner.kind(i);
      if (kind === TREE_ENTRY_GITLINK) continue;
      const at = scanner.oidOffset(i);
      if (kind === TREE_ENTRY_TREE) {
        if (!present.has(content, at)) stack.push(content.toString('hex', at, at + 20));
      } else present.add(content, at);
    }
  }
}

/**
 * List the objects to pack: commits newest first, then tags, then trees and blobs in
 * traversal order (each tree next to its entries, as C Git orders them).
 */
export async function planObjects(store: ObjectDatabase, wants: string[], opts: WalkOptions): Promise<SendPlan> {
  const ids = new WalkIds(store);
  try {
    return await plan(store, wants, opts, ids);
  } finally {
    await ids.release();
  }
}

async function plan(store: ObjectDatabase, wants: string[], opts: WalkOptions, ids: WalkIds): Promise<SendPlan> {
  const filter = opts.filter ?? null;
  const reader = new CommitReader(store, opts.grafts, ids);
  const tagsAndOthers: ObjectToSend[] = [];
  const explicitTrees: string[] = [];
  const commitWants: string[] = [];
  const queued = new Set<string>();

  for (const want of wants) {
    if (queued.has(want)) continue;
    queued.add(want);
    let oid = want;
    let { type, content } = await mustRead(store, oid);
    // Annotated tags (possibly nested) are sent with whatever they point at.
    while (type === 'tag') {
      tagsAndOthers.push({ oid, type });
      oid = parseTag(content).object;
      if (queued.has(oid)) break;
      queued.add(oid);
      ({ type, content } = await mustRead(store, oid));
    }
    if (type === 'commit') commitWants.push(oid);
    else if (type === 'tree') explicitTrees.push(oid);
    else if (type === 'blob') tagsAndOthers.push({ oid, type }); // explicitly wanted: never filtered
  }
  commitWants.push(...(opts.extraWants ?? []));

  const haves = await peelAll(store, opts.haves);
  const range = await commitRange(reader, commitWants, haves);
  // Tree entries are checked against these straight from the tree's bytes (no string per entry).
  const scanner = new TreeScanner();
  const present = new OidSet();
  for (const edge of range.boundary) await markTreePresent(store, edge.tree, present, scanner);
  for (const oid of opts.extraEdges ?? []) await markTreePresent(store, (await reader.get(oid)).tree, present, scanner);

  const out: ObjectToSend[] = range.commits.map((c) => ({ oid: c.oid, type: 'commit' as const }));
  out.push(...tagsAndOthers);
  const sent = new OidSet(out.length * 4);
  for (const o of out) sent.addHex(o.oid);

  // Without a filter, whether an entry is sent depends on its id only (see TreeMemo).
  const memo = new TreeMemo(!filter);
  const noPresent = present.size === 0;
  const isOut = (buf: Buffer, at: number) => sent.has(buf, at) || (!noPresent && present.has(buf, at));
  /** `hint`: a tree walked before, at the same path in a commit near this one (see TreeMemo). */
  const walkTree = async (root: string, explicit: boolean, hint: string | null) => {
    const stack: string[] = [root];
    const depths: number[] = [0];
    const paths: string[] = [''];
    const hints: (string | null)[] = [hint];
    while (stack.length) {
      const oid = stack.pop()!;
      const depth = depths.pop()!;
      const path = paths.pop()!;
      const treeHint = hints.pop()!;
      if (sent.hasHex(oid) || present.hasHex(oid)) continue;
      if (!explicit && !keepTree(filter, depth)) continue;
      sent.addHex(oid);
      out.push({ oid, type: 'tree' });
      await ids.read();
      const content = (await mustRead(store, oid)).content;
      const count = memo.changed(oid, path, content, scanner, treeHint);
      // Backwards, so that subtrees pop in tree order. The scanner and memo are only used by
      // this walk, one tree at a time (the awaits in the loop are for filters and scan nothing).
      for (let k = count - 1; k >= 0; k--) {
        const kind = memo.kind(k);
        if (kind === TREE_ENTRY_GITLINK) continue;
        const at = memo.oidOffset(k);
        if (isOut(content, at)) continue;
        const entryOid = content.toString('hex', at, at + 20);
        if (kind === TREE_ENTRY_TREE) {
          stack.push(entryOid);
          depths.push(depth + 1);
          // the entry's mode and name: a key of its path
          paths.push(filter ? '' : `${path}/${content.toString('latin1', memo.entryStart(k), at - 1)}`);
          hints.push(memo.counterpart(k));
          continue;
        }
        if (filter) {
          const keep = await keepBlob(filter, depth + 1, async () => (await store.readType(entryOid))?.size ?? 0);
          if (!keep) continue;
        }
        sent.add(content, at);
        out.push({ oid: entryOid, type: 'blob' });
      }
      explicit = false;
      if (opts.progress) opts.progress.objects = out.length;
    }
  };
  for (const tree of explicitTrees) await walkTree(tree, true, null);
  // Each commit's tree is compared with the tree of the child walked last before it (its
  // line of history), whose entries are all handled by then.
  const childTree = new Map<string, string>();
  for (const c of range.commits) {
    const hint = childTree.get(c.oid) ?? null;
    childTree.delete(c.oid);
    await walkTree(c.tree, false, hint);
    for (const p of c.parents) childTree.set(p, c.tree);
  }
  const deltaBases = await thinBases(store, range.commits, range.boundary, present);
  return { objects: out, clientHas: { has: (oid) => present.hasHex(oid) }, deltaBases, commitCount: range.commits.length };
}

/**
 * For a thin pack: each changed tree and file of a sent commit whose parent the client has,
 * paired with the client's version at the same path. Only differing subtrees are read, so
 * this costs the change, not the tree.
 */
export async function thinBases(
  store: ObjectDatabase,
  commits: CommitInfo[],
  boundary: CommitInfo[],
  present: { hasHex(oid: string): boolean },
): Promise<Map<string, string>> {
  const bases = new Map<string, string>();
  if (boundary.length === 0) return bases;
  const boundaryTrees = new Map(boundary.map((c) => [c.oid, c.tree]));
  for (const c of commits) {
    const parent = c.parents.find((p) => boundaryTrees.has(p));
    if (parent === undefined) continue;
    const stack: [string, string][] = [[c.tree, boundaryTrees.get(parent)!]];
    while (stack.length) {
      const [ours, theirs] = stack.pop()!;
      if (ours === theirs || present.hasHex(ours) || bases.has(ours)) continue;
      bases.set(ours, theirs);
      const [a, b] = await Promise.all([store.read(ours), store.read(theirs)]);
      if (a?.type !== 'tree' || b?.type !== 'tree') continue;
      const old = new Map(parseTree(b.content).map((e) => [e.name, e]));
      for (const e of parseTree(a.content)) {
        const was = old.get(e.name);
        if (!was || was.oid === e.oid || e.mode === '160000' || was.mode === '160000') continue;
        if (isTreeMode(e.mode) !== isTreeMode(was.mode)) continue;
        if (isTreeMode(e.mode)) stack.push([e.oid, was.oid]);
        else if (!present.hasHex(e.oid) && !bases.has(e.oid)) bases.set(e.oid, was.oid);
      }
    }
  }
  return bases;
}
