// v2 fetch argument codec (gitprotocol-v2 "fetch").
import { GitgateError } from '../../errors.js';
import type { FetchArgs } from '../fetch-core.js';
import { OID_PATTERN } from '../../oid.js';

export interface V2FetchArgs extends FetchArgs {
  wantRefs: string[];
  done: boolean;
  waitForDone: boolean;
  sidebandAll: boolean;
}

const OID = OID_PATTERN;

export function parseFetchArgs(args: string[]): V2FetchArgs {
  const out: V2FetchArgs = {
    wants: [],
    wantRefs: [],
    haves: [],
    shallows: [],
    depth: null,
    deepenSince: null,
    deepenNot: [],
    deepenRelative: false,
    filter: null,
    thinPack: false,
    ofsDelta: false,
    noProgress: false,
    includeTag: false,
    done: false,
    waitForDone: false,
    sidebandAll: false,
  };
  const bad = (line: string, why = 'unexpected line') => new GitgateError('PROTOCOL', { detail: `${why}: '${line.slice(0, 80)}'` });
  const oidOf = (line: string, prefix: string) => {
    const oid = line.slice(prefix.length);
    if (!OID.test(oid)) throw bad(line, 'expected an object id');
    return oid;
  };
  for (const line of args) {
    if (line.startsWith('want ')) out.wants.push(oidOf(line, 'want '));
    else if (line.startsWith('want-ref ')) out.wantRefs.push(line.slice(9));
    else if (line.startsWith('have ')) out.haves.push(oidOf(line, 'have '));
    else if (line.startsWith('shallow ')) out.shallows.push(oidOf(line, 'shallow '));
    else if (line.startsWith('deepen ')) {
      const d = Number(line.slice(7));
      if (!Number.isInteger(d) || d <= 0) throw bad(line, 'Invalid deepen');
      out.depth = d;
    } else if (line.startsWith('deepen-since ')) {
      const t = Number(line.slice(13));
      if (!Number.isInteger(t)) throw bad(line, 'Invalid deepen-since');
      out.deepenSince = t;
    } else if (line.startsWith('deepen-not ')) out.deepenNot.push(line.slice(11));
    else if (line.startsWith('filter ')) out.filter = line.slice(7);
    else if (line === 'deepen-relative') out.deepenRelative = true;
    else if (line === 'thin-pack') out.thinPack = true;
    else if (line === 'ofs-delta') out.ofsDelta = true;
    else if (line === 'no-progress') out.noProgress = true;
    else if (line === 'include-tag') out.includeTag = true;
    else if (line === 'done') out.done = true;
    else if (line === 'wait-for-done') out.waitForDone = true;
    else if (line === 'sideband-all') out.sidebandAll = true;
    else if (line.startsWith('packfile-uris ')) continue; // we never offer packfile URIs
    else throw bad(line);
  }
  // repeated lines change nothing but the work done on them
  out.wants = [...new Set(out.wants)];
  out.wantRefs = [...new Set(out.wantRefs)];
  out.haves = [...new Set(out.haves)];
  out.shallows = [...new Set(out.shallows)];
  out.deepenNot = [...new Set(out.deepenNot)];
  return out;
}

export function writeFetchArgs(args: Partial<V2FetchArgs>): string[] {
  const lines: string[] = [];
  for (const w of args.wants ?? []) lines.push(`want ${w}`);
  for (const r of args.wantRefs ?? []) lines.push(`want-ref ${r}`);
  for (const h of args.haves ?? []) lines.push(`have ${h}`);
  for (const s of args.shallows ?? []) lines.push(`shallow ${s}`);
  if (args.depth) lines.push(`deepen ${args.depth}`);
  if (args.deepenSince) lines.push(`deepen-since ${args.deepenSince}`);
  for (const n of args.deepenNot ?? []) lines.push(`deepen-not ${n}`);
  if (args.deepenRelative) lines.push('deepen-relative');
  if (args.filter) lines.push(`filter ${args.filter}`);
  if (args.thinPack) lines.push('thin-pack');
  if (args.ofsDelta) lines.push('ofs-delta');
  if (args.noProgress) lines.push('no-progress');
  if (args.includeTag) lines.push('include-tag');
  if (args.waitForDone) lines.push('wait-for-done');
  if (args.done) lines.push('done');
  return lines;
}
