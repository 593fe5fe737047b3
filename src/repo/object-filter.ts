// Partial-clone filter specs (git rev-list --filter): blob:none, blob:limit=<n>[kmg],
// tree:<depth>. Anything else is refused like C Git refuses a filter it does not allow.
import { GitgateError } from '../errors.js';

export type ObjectFilter = { kind: 'blob:none' } | { kind: 'blob:limit'; limit: number } | { kind: 'tree'; depth: number };

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

export function parseFilter(spec: string): ObjectFilter {
  const bad = (why: string) => new GitgateError('PROTOCOL', { detail: `invalid filter-spec '${spec.slice(0, 80)}': ${why}` });
  if (spec === 'blob:none') return { kind: 'blob:none' };
  let m = /^blob:limit=(\d+)([kmg]?)$/i.exec(spec);
  if (m) {
    const limit = Number(m[1]) * UNITS[m[2]!.toLowerCase()]!;
    if (!Number.isSafeInteger(limit)) throw bad('limit too large');
    return { kind: 'blob:limit', limit };
  }
  m = /^tree:(\d+)$/.exec(spec);
  if (m) {
    const depth = Number(m[1]);
    if (!Number.isSafeInteger(depth)) throw bad('depth too large');
    return { kind: 'tree', depth };
  }
  if (/^(sparse:|combine:|object:type=)/.test(spec)) throw new GitgateError('PROTOCOL', { detail: `filter '${spec.split(/[:=]/)[0]}' not supported` });
  throw bad('expected blob:none, blob:limit=<n>[kmg] or tree:<depth>');
}

/** Whether a tree at `depth` below the root (root = 0) is sent. */
export function keepTree(filter: ObjectFilter | null, depth: number): boolean {
  return !(filter?.kind === 'tree' && depth >= filter.depth);
}

/** Whether a blob at `depth` (entries of the root tree are at depth 1) is sent. */
export function keepBlob(filter: ObjectFilter | null, depth: number, size: () => Promise<number>): Promise<boolean> | boolean {
  if (!filter) return true;
  if (filter.kind === 'blob:none') return false;
  if (filter.kind === 'tree') return depth < filter.depth;
  return size().then((s) => s < filter.limit);
}
