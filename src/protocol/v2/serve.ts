// Protocol v2 over stateless HTTP: one command per POST (ls-refs or fetch).
import { GitgateError } from '../../errors.js';
import type { Repository } from '../../repo/repository.js';
import type { ByteSource } from '../byte-reader.js';
import { checkWants, fetchPackStream, negotiate, parseFilterArg, planShallow, type WantPolicy } from '../fetch-core.js';
import { DELIM, FLUSH, PktLineReader, pktText } from '../pkt-line.js';
import { bandLimit } from '../sideband.js';
import { refusalsAsErr } from '../err-packet.js';
import { parseCommandRequest } from './command-request.js';
import { parseFetchArgs, type V2FetchArgs } from './fetch-args.js';
import { lsRefs, parseLsRefsArgs } from './ls-refs.js';

export async function* serveV2(repo: Repository, body: ByteSource, policy: WantPolicy = {}): AsyncGenerator<Buffer> {
  const req = await parseCommandRequest(new PktLineReader(body));
  if (!req) return;
  const format = req.capabilities.find((c) => c.startsWith('object-format='));
  if (format && format !== 'object-format=sha1') {
    throw new GitgateError('PROTOCOL', { detail: `unsupported ${format}` });
  }
  if (req.command === 'ls-refs') {
    yield* await lsRefs(repo, parseLsRefsArgs(req.args));
    return;
  }
  if (req.command === 'fetch') {
    yield* refusalsAsErr(fetchV2(repo, parseFetchArgs(req.args), policy));
    return;
  }
  throw new GitgateError('PROTOCOL', { detail: `invalid command '${req.command.slice(0, 40)}'` });
}

/** want-ref names to object ids (wanted-refs section). */
async function resolveWantRefs(repo: Repository, names: string[]): Promise<{ name: string; oid: string }[]> {
  const out: { name: string; oid: string }[] = [];
  // many names: one listing instead of a ref lookup (and packed-refs read) per name
  const listed = names.length > 16 ? new Map((await repo.refs.list()).map((r) => [r.name, r.oid])) : null;
  for (const name of names) {
    const oid =
      name === 'HEAD' || (name.startsWith('refs/') && !listed)
        ? await repo.refs.resolve(name).catch(() => null)
        : (listed?.get(name) ?? null);
    if (!oid) throw new GitgateError('PROTOCOL', { detail: `unknown ref ${name.slice(0, 200)}` });
    out.push({ name, oid });
  }
  return out;
}

async function* fetchV2(repo: Repository, args: V2FetchArgs, policy: WantPolicy): AsyncGenerator<Buffer> {
  const wantedRefs = await resolveWantRefs(repo, args.wantRefs);
  args.wants.push(...wantedRefs.map((r) => r.oid));
  if (args.wants.length === 0 && !args.waitForDone) return;
  await checkWants(repo, args.wants, policy);
  const filter = parseFilterArg(args.filter);
  const shallow = await planShallow(repo, args);
  const { common, ready } = await negotiate(repo, args.wants, args.haves, shallow.grafts);

  if (args.haves.length > 0 && !args.done) {
    const acks: Buffer[] = [pktText('acknowledgments')];
    if (common.length === 0) acks.push(pktText('NAK'));
    for (const oid of common) acks.push(pktText(`ACK ${oid}`));
    if (ready && !args.waitForDone) {
      acks.push(pktText('ready'), DELIM);
      yield Buffer.concat(acks);
    } else {
      acks.push(FLUSH);
      yield Buffer.concat(acks);
      return;
    }
  }
  const sections: Buffer[] = [];
  if (args.depth !== null || args.deepenSince !== null || args.deepenNot.length || args.shallows.length) {
    sections.push(pktText('shallow-info'));
    for (const oid of shallow.shallow) sections.push(pktText(`shallow ${oid}`));
    for (const oid of shallow.unshallow) sections.push(pktText(`unshallow ${oid}`));
    sections.push(DELIM);
  }
  if (wantedRefs.length) {
    sections.push(pktText('wanted-refs'));
    for (const r of wantedRefs) sections.push(pktText(`${r.oid} ${r.name}`));
    sections.push(DELIM);
  }
  sections.push(pktText('packfile'));
  yield Buffer.concat(sections);
  yield* fetchPackStream(repo, args, common, shallow, filter, { sidebandLimit: bandLimit(true), progress: !args.noProgress });
}
