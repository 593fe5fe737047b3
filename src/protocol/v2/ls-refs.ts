// v2 ls-refs: refs (HEAD first) filtered by ref-prefix, with symref targets, peeled tags
// and the unborn HEAD when asked.
import { GitgateError } from '../../errors.js';
import type { Repository } from '../../repo/repository.js';
import { PktTextWriter } from '../pkt-line.js';
import { compareRefNames } from '../../repo/packed-refs.js';
import type { AdvertisedRef } from '../advertisement.js';
import { listRefs, peel } from '../ref-listing.js';

export interface LsRefsArgs {
  symrefs: boolean;
  peel: boolean;
  unborn: boolean;
  prefixes: string[];
}

export function parseLsRefsArgs(args: string[]): LsRefsArgs {
  const out: LsRefsArgs = { symrefs: false, peel: false, unborn: false, prefixes: [] };
  for (const a of args) {
    if (a === 'symrefs') out.symrefs = true;
    else if (a === 'peel') out.peel = true;
    else if (a === 'unborn') out.unborn = true;
    else if (a.startsWith('ref-prefix ')) out.prefixes.push(a.slice(11));
    else throw new GitgateError('PROTOCOL', { detail: `unexpected line: '${a.slice(0, 60)}'` });
  }
  return out;
}

/** The response as blocks: a listing rendered once is sent as it is, not copied per request. */
export async function lsRefs(repo: Repository, args: LsRefsArgs): Promise<Buffer[]> {
  const matches = (name: string) => args.prefixes.length === 0 || args.prefixes.some((p) => name.startsWith(p));
  const out = new PktTextWriter();
  const describe = (name: string, oid: string, target: string | null, peeled: string | null | undefined) => {
    let line = `${oid} ${name}`;
    if (args.symrefs && target) line += ` symref-target:${target}`;
    if (args.peel && peeled) line += ` peeled:${peeled}`;
    out.line(line);
  };
  if (matches('HEAD')) {
    const target = await repo.headTarget();
    const head = await repo.refs.resolve('HEAD');
    if (head) describe('HEAD', head, target, args.peel ? await peel(repo, head) : null);
    else if (args.unborn && target) out.line(args.symrefs ? `unborn HEAD symref-target:${target}` : 'unborn HEAD');
  }
  for (const prefix of listingPrefixes(args.prefixes)) {
    out.append(rendered(await listRefs(repo, { peel: args.peel, prefix }), args.peel));
  }
  return out.flush().toBuffers();
}

/** The lines of a listing, rendered once per listing (listRefs hands out the same one while the refs are unchanged). */
const renderings = new WeakMap<object, { peeled?: PktTextWriter; plain?: PktTextWriter }>();

function rendered(refs: readonly Readonly<AdvertisedRef>[], peel: boolean): PktTextWriter {
  let memo = renderings.get(refs);
  if (!memo) renderings.set(refs, (memo = {}));
  const hit = peel ? memo.peeled : memo.plain;
  if (hit) return hit;
  const out = new PktTextWriter();
  for (const ref of refs) out.line(peel && ref.peeled ? `${ref.oid} ${ref.name} peeled:${ref.peeled}` : `${ref.oid} ${ref.name}`);
  if (peel) memo.peeled = out;
  else memo.plain = out;
  return out;
}

/**
 * The prefixes to list, each range once and in order: none given means refs/; a prefix that
 * another one covers is dropped. Disjoint prefixes in sorted order give sorted ranges.
 */
function listingPrefixes(prefixes: string[]): string[] {
  if (prefixes.length === 0) return ['refs/'];
  // every ref is below refs/, so a prefix that is not a prefix of "refs/…" lists nothing
  const useful = prefixes.filter((p) => p.startsWith('refs/') || 'refs/'.startsWith(p)).sort(compareRefNames);
  const out: string[] = [];
  for (const p of useful) if (!out.some((q) => p.startsWith(q))) out.push(p);
  return out;
}
