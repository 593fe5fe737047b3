// Shallow fetches: which commits become the client's new shallow boundary and which of its
// old boundary commits are deepened (upload-pack.c's deepen / deepen_by_rev_list).
import { GitgateError } from '../errors.js';
import { CommitReader, commitRange } from './commit-walk.js';
import type { ObjectDatabase } from './object-database.js';
import { parseTag } from './objects/tag.js';

export const INFINITE_DEPTH = 0x7fffffff;

export interface DeepenRequest {
  wants: string[];
  clientShallows: string[];
  depth: number | null;
  deepenSince: number | null;
  deepenNot: string[]; // object ids the named refs resolve to
  deepenRelative: boolean;
  /** Tips of our refs, for deepen-relative (only client shallows they reach count). */
  refTips: string[];
}

export interface DeepenPlan {
  /** Whether a shallow-update section is sent at all. */
  sendList: boolean;
  shallow: string[];
  unshallow: string[];
  /** Commits the pack walk treats as parentless. */
  grafts: Set<string>;
  /** Parents of deepened commits: walked like wants. */
  extraWants: string[];
  /** Deepened commits: their trees are already on the client. */
  extraEdges: string[];
}

async function toCommit(store: ObjectDatabase, oid: string): Promise<string | null> {
  for (let i = 0; i < 16; i++) {
    const obj = await store.read(oid);
    if (!obj) return null;
    if (obj.type === 'commit') return oid;
    if (obj.type !== 'tag') return null;
    oid = parseTag(obj.content).object;
  }
  return null;
}

/** Breadth-first minimum depth from the heads (tips at depth 1): commits at `depth` are shallow. */
async function shallowByDepth(reader: CommitReader, heads: string[], depth: number): Promise<{ shallow: Set<string>; notShallow: Set<string> }> {
  const minDepth = new Map<string, number>();
  let frontier: string[] = [];
  for (const h of heads) {
    if (!minDepth.has(h)) {
      minDepth.set(h, 1);
      frontier.push(h);
    }
  }
  const shallow = new Set<string>();
  const notShallow = new Set<string>();
  for (let d = 1; frontier.length; d++) {
    const next: string[] = [];
    for (const oid of frontier) {
      if (d >= depth) {
        shallow.add(oid);
        continue;
      }
      notShallow.add(oid);
      for (const p of await reader.realParents(oid)) {
        if (!minDepth.has(p)) {
          minDepth.set(p, d + 1);
          next.push(p);
        }
      }
    }
    frontier = next;
  }
  return { shallow, notShallow };
}

/** Commits selected by deepen-since / deepen-not; the boundary is those with a parent left out. */
async function shallowByRevList(reader: CommitReader, req: DeepenRequest, wants: string[]) {
  let included: Set<string> | null = null;
  if (req.deepenNot.length) {
    const range = await commitRange(reader, wants, req.deepenNot);
    included = new Set(range.commits.map((c) => c.oid));
  }
  if (req.deepenSince !== null) {
    const since = req.deepenSince;
    const recent = new Set<string>();
    const stack = [...wants];
    while (stack.length) {
      const oid = stack.pop()!;
      if (recent.has(oid) || (included && !included.has(oid))) continue;
      const c = await reader.get(oid);
      if (c.time < since) continue;
      recent.add(oid);
      stack.push(...c.parents);
    }
    included = recent;
  }
  const notShallow = included ?? new Set<string>();
  if (notShallow.size === 0) throw new GitgateError('PROTOCOL', { detail: 'no commits selected for shallow requests' });
  const shallow = new Set<string>();
  for (const oid of notShallow) {
    const parents = await reader.realParents(oid);
    if (parents.some((p) => !notShallow.has(p))) shallow.add(oid);
  }
  // Border commits are shallow, not "not shallow" (both flags would confuse the caller).
  for (const oid of shallow) notShallow.delete(oid);
  return { shallow, notShallow };
}

export async function planDeepen(store: ObjectDatabase, req: DeepenRequest): Promise<DeepenPlan> {
  const reader = new CommitReader(store);
  const clientShallows: string[] = [];
  for (const oid of req.clientShallows) {
    const obj = await store.readType(oid);
    if (!obj) continue; // a commit we never had: ignored, as C Git does
    if (obj.type !== 'commit') throw new GitgateError('PROTOCOL', { detail: `invalid shallow object ${oid}` });
    clientShallows.push(oid);
  }
  const clientSet = new Set(clientShallows);
  const plan: DeepenPlan = { sendList: false, shallow: [], unshallow: [], grafts: new Set(clientShallows), extraWants: [], extraEdges: [] };
  const revList = req.deepenSince !== null || req.deepenNot.length > 0;
  if (req.depth !== null && revList) {
    throw new GitgateError('PROTOCOL', { detail: 'deepen and deepen-since (or deepen-not) cannot be used together' });
  }
  if (req.depth === null && !revList) return plan;
  plan.sendList = true;

  const wants: string[] = [];
  for (const w of req.wants) {
    const c = await toCommit(store, w);
    if (c) wants.push(c);
  }
  let shallow = new Set<string>();
  let notShallow = new Set<string>();
  if (req.depth !== null && req.depth >= INFINITE_DEPTH) {
    notShallow = new Set(clientShallows);
  } else if (req.depth !== null && req.deepenRelative) {
    const reachable = await reachableShallows(reader, req.refTips, clientSet);
    ({ shallow, notShallow } = await shallowByDepth(reader, reachable, req.depth + 1));
  } else if (req.depth !== null) {
    ({ shallow, notShallow } = await shallowByDepth(reader, wants, req.depth));
  } else {
    ({ shallow, notShallow } = await shallowByRevList(reader, req, wants));
  }

  for (const oid of shallow) {
    if (clientSet.has(oid) || notShallow.has(oid)) continue;
    plan.shallow.push(oid);
    plan.grafts.add(oid);
  }
  for (const oid of clientShallows) {
    if (!notShallow.has(oid)) continue;
    plan.unshallow.push(oid);
    plan.extraWants.push(...(await reader.realParents(oid)));
    plan.extraEdges.push(oid);
  }
  return plan;
}

/** Client shallow commits reachable from our refs (deepen-relative counts from these). */
async function reachableShallows(reader: CommitReader, tips: string[], clientShallows: Set<string>): Promise<string[]> {
  const found: string[] = [];
  const seen = new Set<string>();
  const stack: string[] = [];
  for (const t of tips) {
    const c = await reader.get(t).catch(() => null);
    if (c && !seen.has(c.oid)) {
      seen.add(c.oid);
      stack.push(c.oid);
    }
  }
  while (stack.length && found.length < clientShallows.size) {
    const oid = stack.pop()!;
    if (clientShallows.has(oid)) {
      found.push(oid);
      continue;
    }
    for (const p of (await reader.get(oid)).parents) {
      if (!seen.has(p)) {
        seen.add(p);
        stack.push(p);
      }
    }
  }
  return found;
}
