import { describe, expect, it } from 'vitest';
import { FLUSH, PktLineReader, PktTextWriter, pktLine, pktText, pktToText } from '../../src/protocol/pkt-line.js';
import { ByteReader } from '../../src/protocol/byte-reader.js';
import { parseSideband, sidebandPackets, bandLimit } from '../../src/protocol/sideband.js';
import { parseAdvertisement, writeAdvertisement } from '../../src/protocol/advertisement.js';
import { parseUploadRequest, writeUploadRequest } from '../../src/protocol/upload-request.js';
import { parseReceiveCommands, writeReceiveCommands } from '../../src/protocol/receive-commands.js';
import { parseReportStatus, writeReportStatus } from '../../src/protocol/report-status.js';
import { isGitgateError } from '../../src/errors.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);

function chunked(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
}

describe('pkt-line', () => {
  it('text writer: appended blocks are encoded once and stay in order; adding after toBuffer() keeps what came before', () => {
    const block = new PktTextWriter().line('x €').line('y');
    const first = block.toBuffer();
    expect(block.toBuffer()).toBe(first); // kept, not re-encoded
    const out = new PktTextWriter().line('head').append(block).delim().append(block).flush();
    const blocks = out.toBuffers(); // what ls-refs sends: the kept block itself, uncopied
    expect(blocks.map((b) => b.toString())).toEqual(['0009head\n', first.toString(), '0001', first.toString(), '0000']);
    expect(blocks[1]).toBe(first);
    expect(out.toBuffer().toString()).toBe('0009head\n000ax €\n0006y\n0001000ax €\n0006y\n0000');
    block.line('z'); // a block grown later: its own bytes change, the earlier output does not
    expect(block.toBuffer().toString()).toBe('000ax €\n0006y\n0006z\n');
    expect(out.line('tail').toBuffer().toString()).toBe('0009head\n000ax €\n0006y\n0001000ax €\n0006y\n00000009tail\n');
    expect(new PktTextWriter().toBuffer().length).toBe(0);
  });

  it('encodes length including the header', () => {
    expect(pktText('hello').toString()).toBe('000ahello\n');
    expect(pktLine(Buffer.alloc(0)).toString()).toBe('0004');
  });

  it('reads data, flush, delim and response-end across arbitrary chunk boundaries', async () => {
    const body = Buffer.concat([pktText('one'), FLUSH, Buffer.from('0001'), pktText('two'), Buffer.from('0002')]);
    const reader = new PktLineReader(chunked(body, 3));
    const seen: string[] = [];
    for (let p = await reader.read(); p; p = await reader.read()) {
      seen.push(p.type === 'data' ? pktToText(p.payload) : p.type);
    }
    expect(seen).toEqual(['one', 'flush', 'delim', 'two', 'response-end']);
  });

  it.each([
    ['non-hex length', Buffer.from('zzzzhello')],
    ['length 3', Buffer.from('0003')],
    ['truncated payload', Buffer.from('0010abc')],
    ['truncated length', Buffer.from('00')],
  ])('rejects %s with a PROTOCOL error', async (_name, body) => {
    const reader = new PktLineReader([body]);
    await expect(reader.read()).rejects.toSatisfy((e: unknown) => isGitgateError(e, 'PROTOCOL'));
  });

  it('refuses payloads over the maximum', () => {
    expect(() => pktLine(Buffer.alloc(65517))).toThrow(RangeError);
  });

  it('hands the remainder of the stream on untouched', async () => {
    const body = Buffer.concat([pktText('cmd'), FLUSH, Buffer.from('PACKDATA-REST')]);
    const bytes = new ByteReader(chunked(body, 5));
    const reader = new PktLineReader(bytes);
    expect((await reader.read())?.type).toBe('data');
    expect((await reader.read())?.type).toBe('flush');
    const rest: Buffer[] = [];
    for await (const c of bytes.rest()) rest.push(c);
    expect(Buffer.concat(rest).toString()).toBe('PACKDATA-REST');
  });
});

describe('side-band', () => {
  it('splits data into packets no larger than the limit and round-trips', async () => {
    const data = Buffer.alloc(200_000, 7);
    const packets = sidebandPackets(1, data, bandLimit(true));
    expect(packets.length).toBe(Math.ceil(200_000 / 65515));
    const reader = new PktLineReader(packets);
    const parts: Buffer[] = [];
    for (let p = await reader.read(); p; p = await reader.read()) {
      if (p.type !== 'data') throw new Error('unexpected');
      const { band, data: d } = parseSideband(p.payload);
      expect(band).toBe(1);
      parts.push(d);
    }
    expect(Buffer.concat(parts).equals(data)).toBe(true);
  });
});

describe('ref advertisement', () => {
  it('round-trips refs, peeled tags and capabilities', async () => {
    const ad = {
      service: 'git-upload-pack',
      refs: [
        { name: 'HEAD', oid: A },
        { name: 'refs/heads/main', oid: A },
        { name: 'refs/tags/v1', oid: B, peeled: A },
      ],
      capabilities: ['side-band-64k', 'symref=HEAD:refs/heads/main'],
    };
    const body = writeAdvertisement(ad);
    expect(body.toString()).toContain(`${A} HEAD\0side-band-64k symref=HEAD:refs/heads/main\n`);
    expect(await parseAdvertisement(body)).toEqual(ad);
  });

  it('advertises capabilities^{} for an empty repository', async () => {
    const body = writeAdvertisement({ service: 'git-receive-pack', refs: [], capabilities: ['report-status'] });
    expect(body.toString()).toContain(`${'0'.repeat(40)} capabilities^{}\0report-status`);
    expect((await parseAdvertisement(body)).refs).toEqual([]);
  });
});

describe('upload-pack request', () => {
  it('round-trips wants, capabilities, shallow options and haves', async () => {
    const body = writeUploadRequest({
      wants: [A, B],
      capabilities: new Map([['side-band-64k', ''], ['agent', 'git/2.39']]),
      shallows: [B],
      depth: 3,
      haves: [B],
      done: true,
    });
    const req = await parseUploadRequest(new PktLineReader([body]));
    expect(req.wants).toEqual([A, B]);
    expect(req.capabilities.get('agent')).toBe('git/2.39');
    expect(req.capabilities.has('side-band-64k')).toBe(true);
    expect(req.shallows).toEqual([B]);
    expect(req.depth).toBe(3);
    expect(req.haves).toEqual([B]);
    expect(req.done).toBe(true);
  });

  it('treats a have block ending in flush as not done', async () => {
    const req = await parseUploadRequest(new PktLineReader([writeUploadRequest({ wants: [A], haves: [B] })]));
    expect(req.done).toBe(false);
    expect(req.haves).toEqual([B]);
  });

  it.each([
    ['bad oid', Buffer.concat([pktText('want 1234'), FLUSH])],
    ['unknown line', Buffer.concat([pktText('gimme everything'), FLUSH])],
    ['negative depth', Buffer.concat([pktText(`want ${A}`), pktText('deepen -1'), FLUSH])],
    ['missing flush', pktText(`want ${A}`)],
  ])('rejects %s', async (_n, body) => {
    await expect(parseUploadRequest(new PktLineReader([body]))).rejects.toSatisfy((e: unknown) => isGitgateError(e, 'PROTOCOL'));
  });
});

describe('receive-pack commands', () => {
  it('round-trips commands, capabilities and push options', async () => {
    const commands = [
      { oldOid: '0'.repeat(40), newOid: A, ref: 'refs/heads/main' },
      { oldOid: A, newOid: B, ref: 'refs/heads/dev' },
    ];
    const body = writeReceiveCommands({ commands, capabilities: ['report-status', 'push-options'], pushOptions: ['ci.skip', 'x=y'] });
    const req = await parseReceiveCommands(new PktLineReader([body]));
    expect(req.commands).toEqual(commands);
    expect([...req.capabilities.keys()]).toEqual(['report-status', 'push-options']);
    expect(req.pushOptions).toEqual(['ci.skip', 'x=y']);
  });

  it('rejects malformed commands and too many of them', async () => {
    const bad = Buffer.concat([pktText('nonsense'), FLUSH]);
    await expect(parseReceiveCommands(new PktLineReader([bad]))).rejects.toSatisfy((e: unknown) => isGitgateError(e, 'PROTOCOL'));
    const many = writeReceiveCommands({ commands: [1, 2, 3].map((i) => ({ oldOid: A, newOid: B, ref: `refs/heads/b${i}` })) });
    await expect(parseReceiveCommands(new PktLineReader([many]), { maxCommands: 2 })).rejects.toThrow(/too many/);
  });

  it("counts commands over the limit with overLimit 'count' and still reads the push options", async () => {
    const many = writeReceiveCommands({
      commands: [1, 2, 3, 4].map((i) => ({ oldOid: A, newOid: B, ref: `refs/heads/b${i}` })),
      capabilities: ['push-options'],
      pushOptions: ['o=1'],
    });
    const reader = new PktLineReader([Buffer.concat([many, Buffer.from('PACK')])]);
    const req = await parseReceiveCommands(reader, { maxCommands: 3, overLimit: 'count' });
    expect(req.commands.map((c) => c.ref)).toEqual(['refs/heads/b1', 'refs/heads/b2', 'refs/heads/b3']);
    expect(req.dropped).toBe(1);
    expect(req.pushOptions).toEqual(['o=1']);
  });

  it('reads shallow lines before the commands and takes the capabilities from the first command', async () => {
    const commands = [{ oldOid: A, newOid: B, ref: 'refs/heads/main' }];
    const body = writeReceiveCommands({ shallows: [A, B], commands, capabilities: ['report-status', 'side-band-64k'] });
    expect(body.toString()).toMatch(/^0035shallow a{40}\n0035shallow b{40}\n/);
    const req = await parseReceiveCommands(new PktLineReader([body]));
    expect(req.shallows).toEqual([A, B]);
    expect(req.commands).toEqual(commands);
    expect([...req.capabilities.keys()]).toEqual(['report-status', 'side-band-64k']);
  });

  it.each([
    ['short id', `shallow ${A.slice(1)}`],
    ['upper case', `shallow ${A.toUpperCase()}`],
    ['trailing text', `shallow ${A} x`],
    ['no id', 'shallow '],
  ])('rejects a malformed shallow line (%s)', async (_n, line) => {
    const body = Buffer.concat([pktText(line), pktText(`${A} ${B} refs/heads/main\0report-status`), FLUSH]);
    await expect(parseReceiveCommands(new PktLineReader([body]))).rejects.toThrow(/expected shallow sha/);
  });

  it('reads the commands of a push certificate and marks the request as signed', async () => {
    const cert = ['certificate version 0.1', 'pusher T <t@example.com> 0 +0000', 'pushee x', 'nonce 1', '', `${A} ${B} refs/heads/main`, '-----BEGIN PGP SIGNATURE-----', 'sig', '-----END PGP SIGNATURE-----'];
    const body = Buffer.concat([pktText('push-cert\0report-status'), ...cert.map((l) => pktText(`${l}\n`)), pktText('push-cert-end\n'), FLUSH]);
    const req = await parseReceiveCommands(new PktLineReader([body]));
    expect(req.pushCert).toBe(true);
    expect(req.commands).toEqual([{ oldOid: A, newOid: B, ref: 'refs/heads/main' }]);
    expect(req.capabilities.has('report-status')).toBe(true);
    const mixed = Buffer.concat([pktText(`${A} ${B} refs/heads/x\0report-status`), pktText('push-cert'), ...cert.map((l) => pktText(l)), pktText('push-cert-end'), FLUSH]);
    await expect(parseReceiveCommands(new PktLineReader([mixed]))).rejects.toThrow(/both push certificate and unsigned commands/);
  });

  it('caps push options by count and by total size', async () => {
    const commands = [{ oldOid: A, newOid: B, ref: 'refs/heads/main' }];
    const three = writeReceiveCommands({ commands, capabilities: ['push-options'], pushOptions: ['a', 'b', 'c'] });
    await expect(parseReceiveCommands(new PktLineReader([three]), { maxPushOptions: 2 })).rejects.toThrow(/too many push options \(limit 2\)/);
    expect((await parseReceiveCommands(new PktLineReader([three]), { maxPushOptions: 3 })).pushOptions).toEqual(['a', 'b', 'c']);
    const big = writeReceiveCommands({ commands, capabilities: ['push-options'], pushOptions: ['x'.repeat(600), 'y'.repeat(600)] });
    await expect(parseReceiveCommands(new PktLineReader([big]), { maxPushOptionBytes: 1000 })).rejects.toThrow(/push options too large/);
  });
});

describe('report-status', () => {
  it('round-trips ok and ng lines', async () => {
    const report = {
      unpack: 'ok',
      refs: [
        { ref: 'refs/heads/main', ok: true },
        { ref: 'refs/heads/x', ok: false, reason: 'non-fast-forward' },
      ],
    };
    const body = writeReportStatus(report);
    expect(body.toString()).toContain('ng refs/heads/x non-fast-forward\n');
    expect(await parseReportStatus(body)).toEqual(report);
  });
});

describe('side-band buffer', () => {
  it('equals the packet list joined', async () => {
    const { sidebandBuffer } = await import('../../src/protocol/sideband.js');
    for (const size of [0, 1, 999, 1000, 1001, 150_000]) {
      const data = Buffer.alloc(size, 3);
      expect(sidebandBuffer(2, data, 1000).equals(Buffer.concat(sidebandPackets(2, data, 1000)))).toBe(true);
    }
  });
});

describe('BandFramer', () => {
  it('frames writes of any size from a reused buffer into whole packets, as the packet list of all the data', async () => {
    const { BandFramer } = await import('../../src/protocol/sideband.js');
    for (const limit of [bandLimit(true), 995]) {
      const data = Buffer.alloc(3_100_000);
      for (let i = 0; i < data.length; i++) data[i] = (i * 7919) % 251;
      const framer = new BandFramer(1, limit);
      const chunks: Buffer[] = [];
      const scratch = Buffer.alloc(300_000);
      let sizes = 1;
      for (let at = 0; at < data.length; ) {
        const n = Math.min(data.length - at, (sizes = (sizes * 31 + 7) % 300_000));
        data.copy(scratch, 0, at, at + n);
        framer.write(scratch.subarray(0, n), chunks);
        scratch.fill(0xee); // the producer reuses its buffer: what was framed must not change
        at += n;
      }
      const rest = framer.end();
      const framed = Buffer.concat(rest ? [...chunks, rest] : chunks);
      expect(framed.equals(Buffer.concat(sidebandPackets(1, data, limit)))).toBe(true);
      expect(chunks.length).toBeGreaterThan(1);
      for (const c of chunks) expect(c.length % (limit + 5)).toBe(0); // whole packets per chunk
    }
  });
});

describe('BandFramer chunks', () => {
  it('fills a chunk again only once the response has written it', async () => {
    const { BandFramer } = await import('../../src/protocol/sideband.js');
    const { written } = await import('../../src/pack/low-memory.js');
    const framer = new BandFramer(1, bandLimit(true));
    const data = Buffer.alloc(2.5 * 1024 * 1024, 7); // two whole chunks, and part of a third
    const first: Buffer[] = [];
    framer.write(data, first);
    expect(first.length).toBe(2);
    const kept = Buffer.from(first[0]!);
    written(first[1]!); // the second went out; the first is still with the socket
    const next: Buffer[] = [];
    framer.write(Buffer.alloc(2 * 1024 * 1024, 9), next);
    expect(next.some((c) => c === first[1])).toBe(true);
    expect(next.some((c) => c === first[0])).toBe(false);
    expect(first[0]!.equals(kept)).toBe(true);
  });
});
