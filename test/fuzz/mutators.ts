// Mutators: byte-level (bit flips, insert/delete, truncation, duplication, splicing) and
// pkt-line-level (drop/duplicate/swap packets, corrupt length fields, special packets,
// rewrite a line from a dictionary of protocol keywords and hostile values).
import type { Corpus } from './corpus.js';
import { encodePkts, splitPkts, type FPkt } from './pkt.js';
import type { Rng } from './prng.js';

export interface Mutated {
  body: Buffer;
  what: string[];
}

const INTERESTING_BYTES = [0x00, 0x01, 0x0a, 0x0d, 0x20, 0x30, 0x3a, 0x7f, 0x80, 0xff, 0x25, 0x2f, 0x5c];

export const WEIRD_STRINGS = [
  '',
  ' ',
  '\0',
  '\n',
  '\r\n',
  '..',
  '../',
  '%00',
  '%2e%2e%2f',
  '\u202e',
  '\ud800',
  '\uffff',
  'é',
  '😀',
  '\x1b[31m',
  '${x}',
  '%s%s%s%n',
  '-1',
  '0',
  '18446744073709551616',
  '1e309',
  'NaN',
  'Infinity',
  '0x10',
  'A'.repeat(300),
  'A'.repeat(70_000),
];

/** Hostile ref names (check-ref-format rules and beyond). */
export const WEIRD_REFS = [
  'refs/heads/main',
  'refs/heads/dev',
  'HEAD',
  'refs/heads/a..b',
  'refs/heads/.hidden',
  'refs/heads/x.lock',
  'refs/heads/a.lock/b',
  'refs/heads/@{1}',
  'refs/heads/@',
  'refs/heads/a b',
  'refs/heads/a~1',
  'refs/heads/a^',
  'refs/heads/a:b',
  'refs/heads/a?b',
  'refs/heads/a*',
  'refs/heads/a[b',
  'refs/heads/a\\b',
  'refs/heads/trailing/',
  'refs/heads//double',
  'refs/heads/trailing.',
  'refs/heads/\x01ctl',
  'refs/heads/\x7fdel',
  'refs/heads/ünïcödé',
  'refs/heads/../../config',
  'refs/heads/../../../../tmp/gitgate-fuzz-escape',
  '/refs/heads/abs',
  'refs/../objects/x',
  'refs',
  'refs/',
  'refs/heads',
  'refs/heads/',
  'main',
  'refs/foo',
  'refs/remotes/origin/main',
  'refs/tags/v1.0',
  'refs/heads/main/sub',
  'refs/heads/dev/x',
  'refs/heads/' + 'x'.repeat(300),
  'refs/heads/' + 'd/'.repeat(200) + 'deep',
  'refs/heads/con',
  'refs/heads/aux.txt',
  'refs/heads/HEAD',
  'refs/heads/-dash',
  'packed-refs',
  'config',
  'objects/pack/x',
];

export const UPLOAD_LINES = [
  'done',
  'deepen 0',
  'deepen -1',
  'deepen 1',
  'deepen 2147483648',
  'deepen 99999999999999999999',
  'deepen 1.5',
  'deepen ',
  'deepen-since 0',
  'deepen-since -1',
  'deepen-since 99999999999999999',
  'deepen-since abc',
  'deepen-not refs/heads/main',
  'deepen-not refs/heads/nope',
  'deepen-not ',
  'deepen-not v1.0',
  'deepen-relative',
  'filter blob:none',
  'filter blob:limit=0',
  'filter blob:limit=1k',
  'filter blob:limit=-1',
  'filter blob:limit=99999999999999999999g',
  'filter blob:limit=',
  'filter tree:0',
  'filter tree:-1',
  'filter tree:999999999999',
  'filter sparse:oid=main:.gitignore',
  'filter combine:blob:none+tree:0',
  'filter object:type=blob',
  'filter unknown',
  'filter ',
  'shallow 0000000000000000000000000000000000000000',
  'have 0000000000000000000000000000000000000000',
  'want 0000000000000000000000000000000000000000',
  'thin-pack',
  'ofs-delta',
  'no-progress',
  'include-tag',
  'sideband-all',
  'wait-for-done',
  'packfile-uris https,http',
  'want-ref HEAD',
  'want-ref refs/heads/main',
  'want-ref refs/heads/nope',
  'want-ref refs/heads/../../config',
  'want-ref main',
  'ref-prefix ',
  'ref-prefix refs/',
  'ref-prefix \0',
  'symrefs',
  'peel',
  'unborn',
  'command=ls-refs',
  'command=fetch',
  'command=bundle-uri',
  'command=object-info',
  'command=',
  'command=../../etc',
  'object-format=sha256',
  'object-format=sha1',
  'agent=fuzz/1.0',
  'session-id=fuzz',
  'server-option=x',
  'version 2',
  '# service=git-upload-pack',
  'ERR fake',
];

export const CAPABILITIES = [
  'multi_ack',
  'multi_ack_detailed',
  'no-done',
  'side-band',
  'side-band-64k',
  'thin-pack',
  'ofs-delta',
  'shallow',
  'deepen-since',
  'deepen-not',
  'deepen-relative',
  'no-progress',
  'include-tag',
  'filter',
  'allow-tip-sha1-in-want',
  'allow-reachable-sha1-in-want',
  'object-format=sha1',
  'object-format=sha256',
  'agent=' + 'a'.repeat(2000),
  'report-status',
  'report-status-v2',
  'delete-refs',
  'quiet',
  'atomic',
  'push-options',
  'push-cert=123',
  'session-id=\x01',
  '=',
  '==',
  'x=' + '='.repeat(10),
];

/** Object ids worth substituting: known (of every type), new (only in packs), unknown, malformed. */
export function oidChoices(rng: Rng, corpus: Corpus): string {
  const o = corpus.oids;
  return rng.weighted<() => string>([
    [() => rng.pick(o.commit), 4],
    [() => rng.pick(o.tree), 2],
    [() => rng.pick(o.blob), 2],
    [() => rng.pick(o.tag), 1],
    [() => rng.pick(corpus.newOids), 2],
    [() => rng.hex(40), 3],
    [() => '0'.repeat(40), 1],
    [() => rng.pick(o.commit).toUpperCase(), 1],
    [() => rng.pick(o.commit).slice(0, rng.int(40)), 1],
    [() => rng.pick(o.commit) + rng.hex(rng.range(1, 24)), 1],
    [() => rng.hex(64), 1],
    [() => 'g'.repeat(40), 1],
    [() => ' '.repeat(40), 1],
  ])();
}

// ---------- byte level ----------

export function mutateBytes(rng: Rng, input: Buffer, donors: Buffer[] = []): Mutated {
  let buf = Buffer.from(input);
  const what: string[] = [];
  const rounds = rng.weighted([
    [1, 6],
    [2, 3],
    [4, 1],
  ] as const);
  for (let r = 0; r < rounds; r++) {
    const op = rng.weighted<string>([
      ['flip', 5],
      ['set', 3],
      ['insert', 3],
      ['delete', 3],
      ['truncate', 3],
      ['duplicate', 2],
      ['splice', donors.length ? 2 : 0],
      ['weird', 2],
      ['repeat', 1],
    ]);
    const at = rng.int(buf.length + 1);
    switch (op) {
      case 'flip':
        if (!buf.length) break;
        buf[at % buf.length]! ^= 1 << rng.int(8);
        what.push(`flip bit at ${at % buf.length}`);
        break;
      case 'set':
        if (!buf.length) break;
        buf[at % buf.length] = rng.pick(INTERESTING_BYTES);
        what.push(`set byte ${at % buf.length} to 0x${buf[at % buf.length]!.toString(16)}`);
        break;
      case 'insert': {
        const ins = rng.chance(0.5) ? rng.bytes(rng.range(1, 16)) : Buffer.from([rng.pick(INTERESTING_BYTES)]);
        buf = Buffer.concat([buf.subarray(0, at), ins, buf.subarray(at)]);
        what.push(`insert ${ins.length} bytes at ${at}`);
        break;
      }
      case 'delete': {
        const n = rng.range(1, Math.max(1, Math.min(64, buf.length - at)));
        buf = Buffer.concat([buf.subarray(0, at), buf.subarray(at + n)]);
        what.push(`delete ${n} bytes at ${at}`);
        break;
      }
      case 'truncate':
        buf = buf.subarray(0, at);
        what.push(`truncate to ${at} bytes`);
        break;
      case 'duplicate': {
        const n = rng.range(1, Math.max(1, Math.min(256, buf.length - at)));
        buf = Buffer.concat([buf.subarray(0, at + n), buf.subarray(at, at + n), buf.subarray(at + n)]);
        what.push(`duplicate ${n} bytes at ${at}`);
        break;
      }
      case 'splice': {
        const donor = rng.pick(donors);
        const from = rng.int(donor.length);
        const piece = donor.subarray(from, from + rng.range(1, 200));
        buf = Buffer.concat([buf.subarray(0, at), piece, buf.subarray(at)]);
        what.push(`splice ${piece.length} donor bytes at ${at}`);
        break;
      }
      case 'weird': {
        const s = Buffer.from(rng.pick(WEIRD_STRINGS).slice(0, 400));
        buf = Buffer.concat([buf.subarray(0, at), s, buf.subarray(at)]);
        what.push(`insert weird string (${s.length} bytes) at ${at}`);
        break;
      }
      case 'repeat': {
        const n = rng.range(1, Math.max(1, Math.min(64, buf.length - at)));
        const times = rng.pick([10, 100, 1000]);
        const piece = buf.subarray(at, at + n);
        buf = Buffer.concat([buf.subarray(0, at), ...Array.from({ length: times }, () => piece), buf.subarray(at + n)]);
        what.push(`repeat ${n} bytes ×${times} at ${at}`);
        break;
      }
    }
  }
  return { body: buf, what };
}

// ---------- pkt-line level ----------

function dataLines(pkts: FPkt[]): number[] {
  return pkts.map((p, i) => (p.t === 'data' ? i : -1)).filter((i) => i >= 0);
}

function replaceOid(rng: Rng, corpus: Corpus, line: string): string {
  const m = /[0-9a-f]{40}/.exec(line);
  if (!m) return line;
  return line.slice(0, m.index) + oidChoices(rng, corpus) + line.slice(m.index + 40);
}

/** Mutates a pkt-line request. `stopAtPack` keeps a trailing pack as one raw item. */
export function mutatePkts(rng: Rng, body: Buffer, corpus: Corpus, donors: Buffer[] = [], opts: { stopAtPack?: boolean } = {}): Mutated {
  const pkts = splitPkts(body, opts);
  const what: string[] = [];
  const rounds = rng.weighted([
    [1, 6],
    [2, 3],
    [3, 1],
  ] as const);
  for (let r = 0; r < rounds; r++) {
    const lines = dataLines(pkts);
    const op = rng.weighted<string>([
      ['drop', 4],
      ['dup', 3],
      ['swap', 2],
      ['special', 3],
      ['length', 4],
      ['dict', 6],
      ['oid', 6],
      ['payload-bytes', 4],
      ['caps', 3],
      ['splice', donors.length ? 2 : 0],
      ['amplify', 1],
      ['truncate', 2],
      ['no-newline', 1],
      ['oversize', 1],
    ]);
    const li = lines.length ? rng.pick(lines) : -1;
    switch (op) {
      case 'drop': {
        if (!pkts.length) break;
        const i = rng.int(pkts.length);
        what.push(`drop pkt ${i} (${pkts[i]!.t})`);
        pkts.splice(i, 1);
        break;
      }
      case 'dup': {
        if (!pkts.length) break;
        const i = rng.int(pkts.length);
        pkts.splice(i, 0, pkts[i]!);
        what.push(`duplicate pkt ${i}`);
        break;
      }
      case 'swap': {
        if (pkts.length < 2) break;
        const i = rng.int(pkts.length - 1);
        [pkts[i], pkts[i + 1]] = [pkts[i + 1]!, pkts[i]!];
        what.push(`swap pkts ${i},${i + 1}`);
        break;
      }
      case 'special': {
        const i = rng.int(pkts.length + 1);
        const p = rng.weighted<FPkt>([
          [{ t: 'flush' }, 3],
          [{ t: 'delim' }, 3],
          [{ t: 'end' }, 2],
          [{ t: 'raw', bytes: Buffer.from('0003') }, 1],
          [{ t: 'raw', bytes: Buffer.from('0004') }, 2],
          [{ t: 'data', payload: Buffer.alloc(0) }, 1],
        ]);
        pkts.splice(i, 0, p);
        what.push(`insert ${p.t === 'raw' ? p.bytes.toString() : p.t} at ${i}`);
        break;
      }
      case 'length': {
        if (li < 0) break;
        const p = pkts[li] as { t: 'data'; payload: Buffer };
        const real = p.payload.length + 4;
        const head = rng.weighted<string>([
          [(real + rng.pick([1, -1, 2, -2, 16, -3])).toString(16).padStart(4, '0').slice(-4), 5],
          ['ffff', 2],
          ['fff0', 1],
          ['0003', 1],
          ['zzzz', 1],
          [real.toString(16).padStart(4, '0').toUpperCase(), 1],
          [` ${real.toString(16).padStart(3, '0')}`, 1],
          ['-001', 1],
          ['0x1f', 1],
          ['\0\0\0\0', 1],
        ]);
        pkts[li] = { t: 'raw', bytes: Buffer.concat([Buffer.from(head, 'latin1'), p.payload]) };
        what.push(`length of pkt ${li} ${real.toString(16).padStart(4, '0')} -> ${JSON.stringify(head)}`);
        break;
      }
      case 'dict': {
        const line = rng.pick(UPLOAD_LINES).replace(/[0-9a-f]{40}|0{40}/, () => oidChoices(rng, corpus));
        const i = li >= 0 && rng.chance(0.5) ? li : rng.int(pkts.length + 1);
        const payload = Buffer.from(rng.chance(0.8) ? `${line}\n` : line);
        if (i === li) pkts[i] = { t: 'data', payload };
        else pkts.splice(i, 0, { t: 'data', payload });
        what.push(`${i === li ? 'replace' : 'insert'} line ${JSON.stringify(line.slice(0, 60))} at ${i}`);
        break;
      }
      case 'oid': {
        const candidates = lines.filter((i) => /[0-9a-f]{40}/.test((pkts[i] as { payload: Buffer }).payload.toString('latin1')));
        if (!candidates.length) break;
        const i = rng.pick(candidates);
        const old = (pkts[i] as { payload: Buffer }).payload.toString('latin1');
        const line = replaceOid(rng, corpus, old);
        pkts[i] = { t: 'data', payload: Buffer.from(line, 'latin1') };
        what.push(`oid in pkt ${i}: ${JSON.stringify(line.slice(0, 90))}`);
        break;
      }
      case 'payload-bytes': {
        if (li < 0) break;
        const p = pkts[li] as { t: 'data'; payload: Buffer };
        const m = mutateBytes(rng, p.payload);
        pkts[li] = { t: 'data', payload: m.body.length > 65531 ? m.body.subarray(0, 65531) : m.body };
        what.push(`pkt ${li} payload: ${m.what.join('; ')}`);
        break;
      }
      case 'caps': {
        const i = lines.find((k) => /[\0 ](agent=|side-band|report-status|multi_ack|ofs-delta|thin-pack)/.test((pkts[k] as { payload: Buffer }).payload.toString('latin1')));
        if (i === undefined) break;
        const text = (pkts[i] as { payload: Buffer }).payload.toString('latin1').replace(/\n$/, '');
        const how = rng.pick(['add', 'remove-all', 'replace', 'nul', 'dup']);
        let out = text;
        if (how === 'add') out = `${text} ${Array.from({ length: rng.range(1, 4) }, () => rng.pick(CAPABILITIES)).join(' ')}`;
        else if (how === 'remove-all') out = text.replace(/[\0 ].*$/, '');
        else if (how === 'replace') out = text.replace(/([\0 ])(\S+)$/, (_, sep: string) => `${sep}${rng.pick(CAPABILITIES)}`);
        else if (how === 'nul') out = text.replace(' ', '\0');
        else out = `${text} ${text.split(/[\0 ]/).slice(-3).join(' ')}`;
        pkts[i] = { t: 'data', payload: Buffer.from(`${out}\n`, 'latin1') };
        what.push(`capabilities ${how}: ${JSON.stringify(out.slice(-80))}`);
        break;
      }
      case 'splice': {
        const donor = splitPkts(rng.pick(donors), opts).filter((p) => p.t !== 'raw');
        if (!donor.length) break;
        const from = rng.int(donor.length);
        const piece = donor.slice(from, from + rng.range(1, 4));
        const i = rng.int(pkts.length + 1);
        pkts.splice(i, 0, ...piece);
        what.push(`splice ${piece.length} donor pkts at ${i}`);
        break;
      }
      case 'amplify': {
        if (li < 0) break;
        const times = rng.pick([100, 1000, 20_000]);
        pkts.splice(li, 0, ...Array.from({ length: times }, () => pkts[li]!));
        what.push(`repeat pkt ${li} ×${times}`);
        break;
      }
      case 'truncate': {
        const enc = encodePkts(pkts);
        const at = rng.int(enc.length);
        what.push(`truncate encoded body at ${at}/${enc.length}`);
        return { body: enc.subarray(0, at), what };
      }
      case 'no-newline': {
        if (li < 0) break;
        const p = pkts[li] as { t: 'data'; payload: Buffer };
        if (p.payload[p.payload.length - 1] === 0x0a) pkts[li] = { t: 'data', payload: p.payload.subarray(0, -1) };
        else pkts[li] = { t: 'data', payload: Buffer.concat([p.payload, Buffer.from('\n\n')]) };
        what.push(`newline of pkt ${li} toggled`);
        break;
      }
      case 'oversize': {
        const payload = Buffer.alloc(rng.pick([65516, 65517, 65531]), 0x61);
        payload.write('have ', 0);
        pkts.splice(rng.int(pkts.length + 1), 0, { t: 'data', payload });
        what.push(`insert a ${payload.length}-byte payload`);
        break;
      }
    }
  }
  return { body: encodePkts(pkts), what };
}
