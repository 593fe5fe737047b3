// The refs a repository advertises: HEAD first (upload-pack only), then refs/ sorted,
// annotated tags with their peeled value.
import type { Repository } from '../repo/repository.js';
import { parseTag } from '../repo/objects.js';
import type { AdvertisedRef } from './advertisement.js';

export async function peel(repo: Repository, oid: string): Promise<string | null> {
  let current = oid;
  for (let depth = 0; depth < 16; depth++) {
    const obj = await repo.objects.read(current);
    if (!obj || obj.type !== 'tag') return depth === 0 ? null : current;
    current = parseTag(obj.content).object;
  }
  return current;
}

export async function listAdvertisedRefs(repo: Repository, opts: { includeHead: boolean; peel: boolean }): Promise<AdvertisedRef[]> {
  const refs = await repo.refs.list('refs/');
  const out: AdvertisedRef[] = [];
  if (opts.includeHead) {
    const head = await repo.refs.resolve('HEAD');
    if (head) out.push({ name: 'HEAD', oid: head });
  }
  for (const ref of refs) {
    const entry: AdvertisedRef = { name: ref.name, oid: ref.oid };
    if (opts.peel && ref.name.startsWith('refs/tags/')) {
      const peeled = await peel(repo, ref.oid);
      if (peeled) entry.peeled = peeled;
    }
    out.push(entry);
  }
  return out;
}
