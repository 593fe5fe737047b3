// v2 ls-refs: refs (HEAD first) filtered by ref-prefix, with symref targets, peeled tags
// and the unborn HEAD when asked.
import { GitgateError } from '../../errors.js';
import type { Repository } from '../../repo/repository.js';
import { FLUSH, pktText } from '../pkt-line.js';
import { peel } from '../ref-listing.js';

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

export async function lsRefs(repo: Repository, args: LsRefsArgs): Promise<Buffer> {
  const matches = (name: string) => args.prefixes.length === 0 || args.prefixes.some((p) => name.startsWith(p));
  const out: Buffer[] = [];
  const describe = async (name: string, oid: string, target: string | null) => {
    let line = `${oid} ${name}`;
    if (args.symrefs && target) line += ` symref-target:${target}`;
    if (args.peel) {
      const peeled = await peel(repo, oid);
      if (peeled) line += ` peeled:${peeled}`;
    }
    out.push(pktText(line));
  };
  if (matches('HEAD')) {
    const target = await repo.headTarget();
    const head = await repo.refs.resolve('HEAD');
    if (head) await describe('HEAD', head, target);
    else if (args.unborn && target) out.push(pktText(args.symrefs ? `unborn HEAD symref-target:${target}` : 'unborn HEAD'));
  }
  for (const ref of await repo.refs.list('refs/')) {
    if (matches(ref.name)) await describe(ref.name, ref.oid, null);
  }
  out.push(FLUSH);
  return Buffer.concat(out);
}
