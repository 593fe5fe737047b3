import { describe, expect, it } from 'vitest';
import { isGitgateError } from '../../src/errors.js';
import { DELIM, FLUSH, PktLineReader, pktText } from '../../src/protocol/pkt-line.js';
import { parseV2Advertisement, wantsV2, writeV2Advertisement } from '../../src/protocol/v2/capability-advertisement.js';
import { parseCommandRequest, writeCommandRequest } from '../../src/protocol/v2/command-request.js';
import { parseFetchArgs, writeFetchArgs } from '../../src/protocol/v2/fetch-args.js';
import { parseLsRefsArgs } from '../../src/protocol/v2/ls-refs.js';
import { parseFilter } from '../../src/repo/object-filter.js';

const A = 'a'.repeat(40);

describe('v2 capability advertisement', () => {
  it('round-trips and starts with version 2', async () => {
    const body = writeV2Advertisement(['agent=x', 'ls-refs=unborn', 'fetch=shallow filter']);
    expect(body.subarray(0, 14).toString()).toBe('000eversion 2\n');
    expect(await parseV2Advertisement(body)).toEqual(['agent=x', 'ls-refs=unborn', 'fetch=shallow filter']);
  });

  it('recognises version=2 in a Git-Protocol header', () => {
    expect(wantsV2('version=2')).toBe(true);
    expect(wantsV2('foo=bar:version=2')).toBe(true);
    expect(wantsV2('version=1')).toBe(false);
    expect(wantsV2(undefined)).toBe(false);
  });
});

describe('v2 command request', () => {
  it('round-trips command, capabilities and arguments', async () => {
    const req = { command: 'ls-refs', capabilities: ['agent=git/2.39', 'object-format=sha1'], args: ['peel', 'ref-prefix refs/heads/'] };
    expect(await parseCommandRequest(new PktLineReader([writeCommandRequest(req)]))).toEqual(req);
  });

  it('returns null for an empty body and rejects junk', async () => {
    expect(await parseCommandRequest(new PktLineReader([]))).toBe(null);
    const junk = [Buffer.concat([pktText('hello'), FLUSH]), Buffer.concat([pktText('command=fetch'), DELIM, DELIM, FLUSH]), pktText('command=fetch')];
    for (const body of junk) {
      await expect(parseCommandRequest(new PktLineReader([body]))).rejects.toSatisfy((e: unknown) => isGitgateError(e, 'PROTOCOL'));
    }
  });
});

describe('v2 fetch and ls-refs arguments', () => {
  it('round-trips fetch arguments', () => {
    const lines = writeFetchArgs({ wants: [A], haves: [A], depth: 3, filter: 'blob:none', thinPack: true, ofsDelta: true, done: true, deepenNot: ['v1'] });
    const args = parseFetchArgs(lines);
    expect(args).toMatchObject({ wants: [A], haves: [A], depth: 3, filter: 'blob:none', thinPack: true, ofsDelta: true, done: true, deepenNot: ['v1'] });
  });

  it.each(['want xyz', 'deepen 0', 'deepen -2', 'deepen-since soon', 'bogus', 'have 123'])('rejects %s', (line) => {
    expect(() => parseFetchArgs([line])).toThrow(/Protocol error/);
  });

  it('drops repeated wants, want-refs, haves, shallows and deepen-nots, keeping first order', () => {
    const a = 'a'.repeat(40);
    const b = 'b'.repeat(40);
    const lines = [`want ${a}`, `want ${b}`, `want ${a}`, 'want-ref refs/heads/dev', 'want-ref HEAD', 'want-ref refs/heads/dev', `have ${b}`, `have ${b}`, `shallow ${a}`, `shallow ${a}`, 'deepen-not x', 'deepen-not x'];
    const args = parseFetchArgs(lines);
    expect(args.wants).toEqual([a, b]);
    expect(args.wantRefs).toEqual(['refs/heads/dev', 'HEAD']);
    expect(args.haves).toEqual([b]);
    expect(args.shallows).toEqual([a]);
    expect(args.deepenNot).toEqual(['x']);
  });

  it('parses ls-refs arguments and rejects unknown ones', () => {
    expect(parseLsRefsArgs(['symrefs', 'peel', 'unborn', 'ref-prefix HEAD'])).toEqual({ symrefs: true, peel: true, unborn: true, prefixes: ['HEAD'] });
    expect(() => parseLsRefsArgs(['nope'])).toThrow(/unexpected/);
  });
});

describe('filter specs', () => {
  it('parses the supported forms', () => {
    expect(parseFilter('blob:none')).toEqual({ kind: 'blob:none' });
    expect(parseFilter('blob:limit=4k')).toEqual({ kind: 'blob:limit', limit: 4096 });
    expect(parseFilter('blob:limit=2m')).toEqual({ kind: 'blob:limit', limit: 2 * 1024 * 1024 });
    expect(parseFilter('tree:0')).toEqual({ kind: 'tree', depth: 0 });
  });
  it.each(['blob:some', 'tree:-1', 'sparse:oid=abc', 'combine:blob:none+tree:0', '', 'blob:limit=1t'])('rejects %j', (spec) => {
    expect(() => parseFilter(spec)).toThrow(/filter/);
  });
});
