// Case generators: case i of seed s is a pure function of (s, i, corpus, environment).
// Each case is one HTTP request plus what the oracle needs to judge the answer.
import zlib from 'node:zlib';
import type { BodySource } from './http-raw.js';
import type { Corpus, PushSample } from './corpus.js';
import { gzipRepeat, pieces, repeatLine } from './gzip.js';
import { CAPABILITIES, WEIRD_REFS, WEIRD_STRINGS, mutateBytes, mutatePkts, oidChoices } from './mutators.js';
import { buildPack, entryHeader, fixTrailer, mutatePack, packHeader, zlibZeros } from './pack.js';
import { ZERO, pkt, textPkt } from './pkt.js';
import { Rng } from './prng.js';
import { tokenCase, type TokenPlan } from './token-cases.js';

export const CATEGORIES = [
  'upload-v0',
  'upload-v2',
  'receive-cmd',
  'receive-pack',
  'gzip',
  'bomb',
  'rest-json',
  'file-path',
  'url-path',
  'auth',
  'info-refs',
  'tokens',
] as const;
export type Category = (typeof CATEGORIES)[number];

const WEIGHTS: Record<Category, number> = {
  'upload-v0': 15,
  'upload-v2': 13,
  'receive-cmd': 8,
  'receive-pack': 16,
  gzip: 5,
  bomb: 0.3,
  'rest-json': 15,
  'file-path': 8,
  'url-path': 7,
  auth: 9,
  'info-refs': 4,
  tokens: 5,
};

/** How a 200 body is checked. */
export type BodyKind = 'upload-v0' | 'upload-v2' | 'ls-refs' | 'receive' | 'advert-v0' | 'advert-v2' | 'json' | 'any';

export interface FuzzCase {
  index: number;
  category: Category;
  what: string[];
  method: string;
  path: string;
  headers: [string, string][];
  body?: BodySource;
  /** bytes of the body when it is a buffer (for reproducers) */
  bodyLength?: number;
  chunked?: boolean;
  rawFraming?: boolean;
  bodyKind: BodyKind;
  /** A success could legitimately change the target repository. */
  mayWrite: boolean;
  /** Statuses that are the only right answers (the auth oracle). */
  expectStatus?: number[];
  expectWhy?: string;
  /** For file routes: the path as the server will decode it (null: undecodable). */
  filePath?: string | null;
  timeoutMs?: number;
  /** The client hangs up after this many body bytes (no answer expected). */
  abortAfter?: number;
  /** Credential presented (for leak checks). */
  credential?: string;
  /** Token-management cases: roles the runner fills with a fresh family (token-cases.ts). */
  tokenPlan?: TokenPlan;
}

export interface Tokens {
  admin: string;
  write: string;
  read: string;
  /** admin token of the scratch repository only */
  other: string;
  revoked: string;
  expired: string;
  /** write token on the target used for DELETE cases (may revoke itself) */
  victim: string;
}

export interface GenEnv {
  corpus: Corpus;
  target: { id: string; name: string };
  scratch: { id: string; name: string };
  tokens: Tokens;
  /** base URL of the server (for git sources pointing back at it) */
  selfUrl: string;
  /** largest uncompressed size of a bomb */
  maxBombBytes: number;
  /** time limit of heavy cases (bombs, packs) */
  heavyTimeoutMs: number;
}

const SCRATCH = 'fuzz-scratch';

function bearer(secret: string): [string, string] {
  return ['Authorization', `Bearer ${secret}`];
}

function basic(user: string, pass: string): [string, string] {
  return ['Authorization', `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`];
}

function repoSeg(rng: Rng, env: GenEnv): string {
  const base = rng.chance(0.5) ? env.target.name : env.target.id;
  return rng.chance(0.7) ? `${base}.git` : base;
}

function gitPath(rng: Rng, env: GenEnv, tail: string): string {
  return `/v1/repo/${repoSeg(rng, env)}${tail}`;
}

function gitCred(rng: Rng, secret: string): [string, string] {
  return rng.weighted<() => [string, string]>([
    [() => basic('token', secret), 5],
    [() => basic('x-access-token', secret), 1],
    [() => basic(secret, ''), 1],
    [() => bearer(secret), 2],
  ])();
}

function uploadHeaders(rng: Rng, secret: string, v2: boolean): [string, string][] {
  const h: [string, string][] = [gitCred(rng, secret)];
  h.push(['Content-Type', 'application/x-git-upload-pack-request']);
  if (v2) h.push(['Git-Protocol', 'version=2']);
  return h;
}

function receiveHeaders(rng: Rng, secret: string): [string, string][] {
  return [gitCred(rng, secret), ['Content-Type', 'application/x-git-receive-pack-request']];
}

/** Occasionally mangle the content type or protocol header (the oracle still wants < 500). */
function mangleHeaders(rng: Rng, headers: [string, string][], what: string[]): void {
  if (!rng.chance(0.08)) return;
  const i = headers.findIndex(([k]) => k === 'Content-Type' || k === 'Git-Protocol');
  if (i < 0) return;
  const [k] = headers[i]!;
  const v = rng.pick(
    k === 'Content-Type'
      ? ['application/x-git-receive-pack-request', 'application/json', 'text/plain', '', 'application/x-git-upload-pack-request; charset=utf-16', 'APPLICATION/X-GIT-UPLOAD-PACK-REQUEST', '\u00ff']
      : ['version=1', 'version=3', 'version=2:version=1', 'version=2\u00ff', 'object-format=sha256:version=2', ''],
  );
  headers[i] = [k, v];
  what.push(`header ${k}: ${JSON.stringify(v)}`);
}

function unique<T>(items: T[], key: (t: T) => string): T[] {
  const seen = new Set<string>();
  return items.filter((t) => {
    const k = key(t);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

// ---------------------------------------------------------------- categories

function uploadCase(rng: Rng, env: GenEnv, v2: boolean, c: FuzzCase): void {
  const pool = v2 ? unique([...env.corpus.upload2, ...env.corpus.lsRefs], (x) => x.body.toString('latin1')) : unique(env.corpus.upload0, (x) => x.body.toString('latin1'));
  const sample = rng.pick(pool);
  const donors = pool.map((p) => p.body);
  c.what.push(`from "${sample.name}"`);
  const m = rng.chance(0.8) ? mutatePkts(rng, sample.body, env.corpus, donors) : mutateBytes(rng, sample.body, donors);
  c.what.push(...m.what);
  c.method = 'POST';
  c.path = gitPath(rng, env, '/git-upload-pack');
  c.headers = uploadHeaders(rng, rng.chance(0.85) ? env.tokens.admin : env.tokens.read, v2);
  mangleHeaders(rng, c.headers, c.what);
  c.body = m.body;
  c.chunked = rng.chance(0.2);
  c.bodyKind = v2 ? (/command=ls-refs/.test(sample.body.toString('latin1', 0, 30)) ? 'ls-refs' : 'upload-v2') : 'upload-v0';
}

/** Command-list mutations on a real push, pack untouched. */
function receiveCmdCase(rng: Rng, env: GenEnv, c: FuzzCase): void {
  const sample = rng.pick(env.corpus.pushes);
  c.what.push(`from "${sample.name}"`);
  let commands: Buffer;
  if (rng.chance(0.5)) {
    const m = mutatePkts(rng, sample.commands, env.corpus, env.corpus.pushes.map((p) => p.commands));
    commands = m.body;
    c.what.push(...m.what);
  } else {
    commands = semanticCommands(rng, env, sample, c.what);
  }
  c.method = 'POST';
  c.path = gitPath(rng, env, '/git-receive-pack');
  c.headers = receiveHeaders(rng, rng.chance(0.9) ? env.tokens.admin : env.tokens.write);
  mangleHeaders(rng, c.headers, c.what);
  c.body = Buffer.concat([commands, sample.pack]);
  c.chunked = rng.chance(0.3);
  c.bodyKind = 'receive';
  c.mayWrite = true;
  // thousands of ref updates cost file-system work per ref (as in C Git): a heavy case, not a hang
  if (c.what.some((w) => /^\d{4,} extra commands$/.test(w))) c.timeoutMs = env.heavyTimeoutMs;
}

function semanticCommands(rng: Rng, env: GenEnv, sample: PushSample, what: string[]): Buffer {
  const refs = env.corpus.refs;
  const updates = sample.updates.map((u) => ({ ...u }));
  if (!updates.length) updates.push({ ref: 'refs/heads/x', oldOid: ZERO, newOid: ZERO });
  const n = rng.range(1, 3);
  let caps = rng.pick([
    'report-status side-band-64k ofs-delta',
    'report-status-v2 side-band-64k quiet atomic',
    'report-status',
    'side-band-64k',
    '',
    'report-status push-options',
    'report-status-v2 atomic delete-refs',
  ]);
  const options: string[] = [];
  for (let k = 0; k < n; k++) {
    const u = rng.pick(updates);
    const op = rng.pick(['ref', 'old', 'new', 'delete-head', 'delete-missing', 'dup', 'many', 'caps', 'shallow', 'shallow', 'push-cert', 'options', 'type']);
    switch (op) {
      case 'ref':
        u.ref = rng.pick(WEIRD_REFS);
        what.push(`ref -> ${JSON.stringify(u.ref.slice(0, 80))}`);
        break;
      case 'old':
        u.oldOid = rng.chance(0.5) ? ZERO : oidChoices(rng, env.corpus);
        what.push(`old oid -> ${u.oldOid}`);
        break;
      case 'new':
        u.newOid = oidChoices(rng, env.corpus);
        what.push(`new oid -> ${u.newOid}`);
        break;
      case 'type': {
        // a branch pointing at a tree, blob or tag object that exists
        const o = env.corpus.oids;
        u.newOid = rng.pick([...o.tree, ...o.blob, ...o.tag]);
        u.ref = `refs/heads/fuzz-type-${rng.int(1000)}`;
        u.oldOid = ZERO;
        what.push(`branch ${u.ref} -> non-commit ${u.newOid}`);
        break;
      }
      case 'delete-head':
        updates.push({ ref: 'refs/heads/main', oldOid: refs['refs/heads/main']!, newOid: ZERO });
        what.push('delete the current branch (main)');
        break;
      case 'delete-missing':
        updates.push({ ref: `refs/heads/nope-${rng.int(100)}`, oldOid: rng.chance(0.5) ? ZERO : rng.hex(40), newOid: ZERO });
        what.push('delete a missing ref');
        break;
      case 'dup':
        updates.push({ ...u, newOid: rng.chance(0.5) ? u.newOid : ZERO });
        what.push(`same ref twice (${u.ref})`);
        break;
      case 'many': {
        const count = rng.pick([100, 5000, 100_001]);
        for (let i = 0; i < count; i++) updates.push({ ref: `refs/heads/many/${i}`, oldOid: ZERO, newOid: rng.chance(0.01) ? u.newOid : ZERO });
        what.push(`${count} extra commands`);
        break;
      }
      case 'caps':
        caps = Array.from({ length: rng.range(0, 5) }, () => rng.pick(CAPABILITIES)).join(' ');
        what.push(`capabilities ${JSON.stringify(caps.slice(0, 80))}`);
        break;
      case 'shallow': {
        // well-formed and malformed shallow lines before the commands: 400 or a report, never a cut
        const oid = oidChoices(rng, env.corpus);
        const id = rng.pick([oid, oid, oid.slice(0, 39), oid.toUpperCase(), `${oid} x`, '', 'zz'.repeat(20), ZERO]);
        for (let i = rng.pick([1, 1, 2, 50]); i > 0; i--) updates.unshift({ ref: '', oldOid: 'shallow', newOid: id });
        what.push(`shallow lines first (${JSON.stringify(id.slice(0, 44))})`);
        break;
      }
      case 'push-cert':
        updates.unshift({ ref: '', oldOid: 'push-cert', newOid: '' });
        what.push('push-cert block');
        break;
      case 'options':
        if (!caps.includes('push-options')) caps += ' push-options';
        for (let i = rng.pick([0, 1, 3, 1000]); i > 0; i--) options.push(rng.pick(WEIRD_STRINGS).slice(0, 1000) || 'x');
        what.push(`${options.length} push options`);
        break;
    }
  }
  const parts: Buffer[] = [];
  // capabilities ride on the first command, after any shallow lines (sometimes misplaced on purpose)
  const capsAt = rng.chance(0.9) ? Math.max(0, updates.findIndex((u) => u.oldOid !== 'shallow')) : 0;
  // a certificate carries the commands; sending them unsigned as well is a protocol error
  const signedOnly = updates.some((u) => u.oldOid === 'push-cert') && rng.chance(0.8);
  updates.forEach((u, i) => {
    if (signedOnly && /^[0-9a-f]{40}$/.test(u.oldOid)) return;
    if (u.oldOid === 'push-cert') {
      const cert = ['certificate version 0.1', 'pusher F <f@example.com> 0 +0000', '', ...updates.filter((x) => /^[0-9a-f]{40}$/.test(x.oldOid)).map((x) => `${x.oldOid} ${x.newOid} ${x.ref}`), 'push-cert-end'];
      parts.push(pkt(Buffer.from(`push-cert\0${caps}\n`)), ...cert.map((l) => pkt(Buffer.from(`${l}\n`, 'utf8'))));
      return;
    }
    const line = u.oldOid === 'shallow' ? `shallow ${u.newOid}` : `${u.oldOid} ${u.newOid} ${u.ref}`;
    const text = i === capsAt ? `${line}\0${caps}` : line;
    const payload = Buffer.from(`${text}\n`, 'utf8');
    parts.push(payload.length + 4 <= 0xffff ? pkt(payload) : Buffer.concat([Buffer.from('ffff'), payload.subarray(0, 0xfffb)]));
  });
  parts.push(Buffer.from('0000'));
  if (caps.includes('push-options')) {
    for (const o of options) parts.push(textPkt(o));
    parts.push(Buffer.from('0000'));
  }
  return Buffer.concat(parts);
}

function receivePackCase(rng: Rng, env: GenEnv, c: FuzzCase): void {
  const samples = env.corpus.pushes.filter((p) => p.pack.length > 32);
  const sample = rng.pick(samples);
  c.what.push(`from "${sample.name}"`);
  const known = [...env.corpus.oids.commit, ...env.corpus.oids.tree, ...env.corpus.oids.blob];
  let pack = sample.pack;
  const rounds = rng.chance(0.8) ? 1 : 2;
  for (let r = 0; r < rounds; r++) {
    const m = mutatePack(rng, pack, known);
    pack = m.pack;
    c.what.push(m.what);
  }
  if (rng.chance(0.1)) {
    // the corruption, then a perfectly good copy of the same objects after it
    pack = Buffer.concat([pack, sample.pack]);
    c.what.push('valid pack appended after the corrupt one');
  }
  c.method = 'POST';
  c.path = gitPath(rng, env, '/git-receive-pack');
  c.headers = receiveHeaders(rng, env.tokens.admin);
  c.body = Buffer.concat([sample.commands, pack]);
  c.chunked = rng.chance(0.3);
  c.bodyKind = 'receive';
  c.mayWrite = true;
  c.timeoutMs = env.heavyTimeoutMs;
  if (rng.chance(0.04)) {
    c.abortAfter = rng.int(c.body.length);
    c.what.push(`client hangs up after ${c.abortAfter} of ${c.body.length} body bytes`);
  }
}

const ENCODINGS = ['gzip', 'x-gzip', 'GZIP', 'gzip, gzip', 'deflate', 'br', 'identity', '', 'compress', 'gzip;q=1', 'zstd'];

function gzipCase(rng: Rng, env: GenEnv, c: FuzzCase): void {
  const kind = rng.pick(['upload-v0', 'upload-v2', 'receive', 'json'] as const);
  let plain: Buffer;
  if (kind === 'upload-v0') {
    plain = rng.pick(env.corpus.upload0).body;
    c.path = gitPath(rng, env, '/git-upload-pack');
    c.headers = uploadHeaders(rng, env.tokens.admin, false);
    c.bodyKind = 'upload-v0';
  } else if (kind === 'upload-v2') {
    plain = rng.pick(env.corpus.upload2).body;
    c.path = gitPath(rng, env, '/git-upload-pack');
    c.headers = uploadHeaders(rng, env.tokens.admin, true);
    c.bodyKind = 'upload-v2';
  } else if (kind === 'receive') {
    const s = rng.pick(env.corpus.pushes);
    const m = mutatePack(rng, s.pack.length > 32 ? s.pack : env.corpus.pushes[0]!.pack, []);
    plain = Buffer.concat([s.commands, m.pack]);
    c.what.push(`push "${s.name}" with ${m.what}`);
    c.path = gitPath(rng, env, '/git-receive-pack');
    c.headers = receiveHeaders(rng, env.tokens.admin);
    c.bodyKind = 'receive';
    c.mayWrite = true;
  } else {
    plain = Buffer.from(JSON.stringify({ query: 'fetchPack', include_content: true }));
    c.path = `/v1/repo/${env.target.name}/retrieve`;
    c.headers = [bearer(env.tokens.admin), ['Content-Type', 'application/json']];
    c.bodyKind = 'json';
  }
  c.method = 'POST';
  if (rng.chance(0.4) && kind !== 'json') {
    const m = mutatePkts(rng, plain, env.corpus, [], { stopAtPack: true });
    plain = m.body;
    c.what.push(...m.what);
  }
  const enc = rng.pick(ENCODINGS);
  let body: Buffer = rng.chance(0.5) ? zlib.gzipSync(plain) : zlib.gzipSync(plain, { level: 1 });
  const how = rng.weighted<string>([
    ['valid', 5],
    ['flip', 2],
    ['truncate', 2],
    ['crc', 1],
    ['two-members', 1],
    ['gzip-of-gzip', 1],
    ['trailing-garbage', 1],
    ['plain-labelled-gzip', 1],
    ['deflate-raw', 1],
  ]);
  if (how === 'flip') body[rng.range(10, body.length - 1)]! ^= 1 << rng.int(8);
  else if (how === 'truncate') body = body.subarray(0, rng.int(body.length));
  else if (how === 'crc') body[body.length - 8]! ^= 0xff;
  else if (how === 'two-members') body = Buffer.concat([zlib.gzipSync(plain.subarray(0, plain.length >> 1)), zlib.gzipSync(plain.subarray(plain.length >> 1))]);
  else if (how === 'gzip-of-gzip') body = zlib.gzipSync(body);
  else if (how === 'trailing-garbage') body = Buffer.concat([body, Buffer.from('garbage')]);
  else if (how === 'plain-labelled-gzip') body = plain;
  else if (how === 'deflate-raw') body = zlib.deflateRawSync(plain);
  c.headers.push(['Content-Encoding', enc]);
  c.what.push(`Content-Encoding ${JSON.stringify(enc)}, body ${how}`);
  c.body = body;
  c.chunked = rng.chance(0.5);
  if (rng.chance(0.1)) {
    c.abortAfter = rng.int(body.length);
    c.what.push(`client hangs up after ${c.abortAfter} of ${body.length} body bytes`);
  }
}

/** Zip bombs and oversized streams. Sizes are capped by env.maxBombBytes. */
function bombCase(rng: Rng, env: GenEnv, c: FuzzCase): void {
  const sizes = [16, 64, 256, 1024].map((m) => m * 1024 * 1024).filter((s) => s <= env.maxBombBytes);
  const size = sizes.length ? rng.pick(sizes) : env.maxBombBytes;
  const mib = Math.round(size / 1024 / 1024);
  const want = env.corpus.refs['refs/heads/main']!;
  const kind = rng.pick(['zeros-upload', 'haves-v0', 'haves-v2', 'wantref-v2', 'wants-v0', 'push-zeros', 'push-options', 'push-commands', 'json', 'put-file', 'stream-haves', 'pack-inflate']);
  c.method = 'POST';
  c.timeoutMs = env.heavyTimeoutMs;
  let gz: Buffer | null = null;
  const haveLine = textPkt(`have ${env.corpus.oids.commit[0]}`);
  const units = Math.max(1, Math.round(size / (1024 * 1024)));
  switch (kind) {
    case 'zeros-upload':
      gz = gzipRepeat(Buffer.alloc(0), Buffer.alloc(1024 * 1024), units, undefined, 'zeros');
      c.path = gitPath(rng, env, '/git-upload-pack');
      c.headers = uploadHeaders(rng, env.tokens.admin, rng.chance(0.5));
      c.bodyKind = 'upload-v0';
      break;
    case 'haves-v0':
    case 'wants-v0': {
      const line = kind === 'haves-v0' ? haveLine : textPkt(`want ${want}`);
      const prefix = kind === 'haves-v0' ? Buffer.concat([textPkt(`want ${want} multi_ack_detailed side-band-64k ofs-delta`), Buffer.from('0000')]) : textPkt(`want ${want} side-band-64k`);
      const suffix = kind === 'haves-v0' ? textPkt('done') : Buffer.concat([Buffer.from('0000'), textPkt('done')]);
      gz = gzipRepeat(prefix, repeatLine(line), units, suffix, kind);
      c.path = gitPath(rng, env, '/git-upload-pack');
      c.headers = uploadHeaders(rng, env.tokens.admin, false);
      c.bodyKind = 'upload-v0';
      break;
    }
    case 'haves-v2': {
      const prefix = Buffer.concat([textPkt('command=fetch'), Buffer.from('0001'), textPkt(`want ${want}`)]);
      gz = gzipRepeat(prefix, repeatLine(haveLine), units, Buffer.concat([textPkt('done'), Buffer.from('0000')]), kind);
      c.path = gitPath(rng, env, '/git-upload-pack');
      c.headers = uploadHeaders(rng, env.tokens.admin, true);
      c.bodyKind = 'upload-v2';
      break;
    }
    case 'wantref-v2': {
      const prefix = Buffer.concat([textPkt('command=fetch'), Buffer.from('0001')]);
      gz = gzipRepeat(prefix, repeatLine(textPkt('want-ref refs/heads/main')), units, Buffer.concat([textPkt('done'), Buffer.from('0000')]), kind);
      c.path = gitPath(rng, env, '/git-upload-pack');
      c.headers = uploadHeaders(rng, env.tokens.admin, true);
      c.bodyKind = 'upload-v2';
      break;
    }
    case 'push-zeros': {
      const s = env.corpus.pushes.find((p) => p.pack.length > 32)!;
      gz = gzipRepeat(Buffer.concat([s.commands, packHeader(rng.pick([1, 3, 0xffffffff]))]), Buffer.alloc(1024 * 1024), units, undefined, `push-zeros-${s.name}`);
      c.path = gitPath(rng, env, '/git-receive-pack');
      c.headers = receiveHeaders(rng, env.tokens.admin);
      c.bodyKind = 'receive';
      c.mayWrite = true;
      break;
    }
    case 'push-options': {
      const cmd = `${ZERO} ${env.corpus.newOids[0]} refs/heads/bomb`;
      const prefix = Buffer.concat([pkt(Buffer.from(`${cmd}\0report-status push-options\n`)), Buffer.from('0000')]);
      gz = gzipRepeat(prefix, repeatLine(textPkt('ci.skip=true')), units, Buffer.from('0000'), kind);
      c.path = gitPath(rng, env, '/git-receive-pack');
      c.headers = receiveHeaders(rng, env.tokens.admin);
      c.bodyKind = 'receive';
      c.mayWrite = true;
      break;
    }
    case 'push-commands': {
      const first = pkt(Buffer.from(`${ZERO} ${env.corpus.newOids[0]} refs/heads/bomb\0report-status side-band-64k\n`));
      gz = gzipRepeat(first, repeatLine(textPkt(`${ZERO} ${env.corpus.newOids[0]} refs/heads/bomb-many`)), units, Buffer.from('0000'), kind);
      c.path = gitPath(rng, env, '/git-receive-pack');
      c.headers = receiveHeaders(rng, env.tokens.admin);
      c.bodyKind = 'receive';
      c.mayWrite = true;
      break;
    }
    case 'json':
      gz = gzipRepeat(Buffer.from('{"query":"'), Buffer.alloc(1024 * 1024, 0x61), units, Buffer.from('"}'), 'json');
      c.path = `/v1/repo/${env.target.name}/retrieve`;
      c.headers = [bearer(env.tokens.admin), ['Content-Type', 'application/json']];
      c.bodyKind = 'json';
      break;
    case 'put-file':
      gz = gzipRepeat(Buffer.alloc(0), Buffer.alloc(1024 * 1024), units, undefined, 'zeros');
      c.method = 'PUT';
      c.path = `/v1/repo/${env.target.name}/file/bomb.bin`;
      c.filePath = 'bomb.bin';
      c.headers = [bearer(env.tokens.admin), ['Content-Type', 'application/octet-stream']];
      c.bodyKind = 'json';
      c.mayWrite = true;
      break;
    case 'stream-haves': {
      // not compressed: a long plain stream of have lines, sent chunked
      const n = Math.min(size, 128 * 1024 * 1024);
      const unit = repeatLine(haveLine, 256 * 1024);
      const prefix = Buffer.concat([textPkt(`want ${want} multi_ack_detailed side-band-64k`), Buffer.from('0000')]);
      c.body = async function* () {
        yield prefix;
        for (let sent = 0; sent < n; sent += unit.length) yield unit;
        yield textPkt('done');
      };
      c.path = gitPath(rng, env, '/git-upload-pack');
      c.headers = uploadHeaders(rng, env.tokens.admin, false);
      c.bodyKind = 'upload-v0';
      c.what.push(`${Math.round(n / 1024 / 1024)} MiB of have lines, chunked`);
      return;
    }
    case 'pack-inflate': {
      // one blob entry declaring `size` bytes, its zlib stream inflating to exactly that
      const s = env.corpus.pushes.find((p) => p.pack.length > 32)!;
      const pack = buildPack([Buffer.concat([entryHeader(3, size), zlibZeros(size)])], 1);
      c.body = Buffer.concat([s.commands, rng.chance(0.5) ? pack : fixTrailer(Buffer.concat([pack.subarray(0, -1), Buffer.from([0, 0])]))]);
      c.path = gitPath(rng, env, '/git-receive-pack');
      c.headers = receiveHeaders(rng, env.tokens.admin);
      c.bodyKind = 'receive';
      c.mayWrite = true;
      c.what.push(`pack with one ${mib} MiB zero blob in ${c.body.length} bytes`);
      return;
    }
  }
  c.headers.push(['Content-Encoding', 'gzip']);
  c.body = () => pieces(gz!) as unknown as AsyncIterable<Buffer>;
  c.bodyLength = gz!.length;
  c.what.push(`${kind}: gzip bomb of ${mib} MiB in ${gz!.length} bytes`);
  if (rng.chance(0.2)) {
    c.abortAfter = rng.int(gz!.length);
    c.what.push(`client hangs up after ${c.abortAfter} compressed bytes`);
  }
}

// ---------------------------------------------------------------- REST

const WEIRD_PATHS = [
  'a.txt',
  'src/new.ts',
  '../escape.txt',
  '..',
  '.',
  './a',
  'a/../b',
  'a/./b',
  '/etc/passwd',
  '//double',
  'a//b',
  'a/',
  '.git/config',
  '.git',
  '.GIT/hooks/x',
  'sub/.git/x',
  '.git./x',
  '.git /x',
  'git~1/config',
  'GIT~1/x',
  '.g\u200cit/x',
  'a\\b',
  '..\\..\\x',
  'a\0b',
  'nul\0',
  '',
  ' ',
  '-',
  'con',
  'a'.repeat(300),
  'a/'.repeat(2100) + 'x',
  'x'.repeat(5000),
  'ünïcödé.txt',
  '😀/x',
  'data/big.txt',
  'deep/a/b/c/d.txt',
  'deep/a',
  'data',
  'README.md',
  'README.md/x',
  '%2e%2e/x',
  '\n',
  'a\nb',
];

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function restTemplates(env: GenEnv, rng: Rng): { method: string; path: string; body: Json; mayWrite: boolean; token: string; weight: number }[] {
  const T = env.target.name;
  const self = new URL(`${env.selfUrl}/v1/repo/${env.target.id}.git`);
  self.username = 'token';
  self.password = env.tokens.read;
  const file = () => rng.pick(env.corpus.files);
  return [
    { method: 'POST', path: '/v1/repo', body: { name: `fz-${rng.hex(8)}`, metadata: { team: 'fuzz' } }, mayWrite: false, token: env.tokens.admin, weight: 3 },
    { method: 'POST', path: '/v1/repo', body: { source: { type: 'files', files: [{ filename: 'a.txt', content: 'x' }, { filename: 'src/b.ts', content: 'y' }] } }, mayWrite: false, token: env.tokens.admin, weight: 3 },
    { method: 'POST', path: '/v1/repo', body: { source: { type: 'git', url: self.toString(), branch: 'dev' } }, mayWrite: false, token: env.tokens.admin, weight: 0.5 },
    {
      method: 'POST',
      path: `/v1/repo/${T}/update`,
      body: {
        source: {
          type: 'diff',
          operations: [
            { type: 'write', filename: `fuzz/${rng.hex(4)}.txt`, content: 'hello\n' },
            { type: 'rename', old_filename: 'fuzz/keep.txt', new_filename: 'fuzz/kept.txt' },
            { type: 'delete', filename: 'fuzz/none.txt' },
          ],
        },
      },
      mayWrite: true,
      token: env.tokens.admin,
      weight: 4,
    },
    { method: 'POST', path: `/v1/repo/${T}/update`, body: { source: { type: 'files', files: [{ filename: file(), content: 'replaced\n' }] } }, mayWrite: true, token: env.tokens.write, weight: 1 },
    { method: 'POST', path: `/v1/repo/${T}/update`, body: { metadata: { a: 'b' } }, mayWrite: true, token: env.tokens.admin, weight: 1 },
    { method: 'POST', path: `/v1/repo/${T}/update`, body: { source: { type: 'git', url: self.toString(), branch: 'main' } }, mayWrite: true, token: env.tokens.admin, weight: 0.5 },
    { method: 'POST', path: '/v1/repo_token', body: { name: 'fz', repo_ids: [env.target.id], ttl_seconds: 600, permission: 'read' }, mayWrite: false, token: env.tokens.admin, weight: 3 },
    { method: 'POST', path: '/v1/workspace_token', body: { name: 'fz', ttl_seconds: 600, permission: 'read' }, mayWrite: false, token: env.tokens.admin, weight: 1 },
    { method: 'POST', path: `/v1/repo/${T}/retrieve`, body: { query: 'fetchPack resolve_ref', include_content: true, score_threshold: 0.1, token_limit: 1000 }, mayWrite: false, token: env.tokens.read, weight: 4 },
    { method: 'POST', path: `/v1/repo/${T}/apikey`, body: { name: 'k', accessType: 'READ' }, mayWrite: false, token: env.tokens.admin, weight: 1 },
  ];
}

const JSON_VALUES: (() => Json)[] = [
  () => null,
  () => true,
  () => 0,
  () => -1,
  () => 1e308,
  () => 2 ** 53 + 1,
  () => 0.5,
  () => '',
  () => 'x'.repeat(100_000),
  () => [],
  () => ({}),
  () => [null],
  () => ({ __proto__: { admin: true } }) as unknown as Json,
  () => ({ constructor: { prototype: { polluted: 1 } } }),
  () => 'refs/heads/main',
  () => '../../etc/passwd',
  () => 'ggw_' + 'A'.repeat(54),
  () => Array.from({ length: 10_000 }, (_, i) => i),
];

function mutateJson(rng: Rng, value: Json, what: string[], depth = 0): Json {
  if (value === null || typeof value !== 'object') {
    if (rng.chance(0.3)) {
      const v = typeof value === 'string' ? rng.pick([...WEIRD_STRINGS, ...WEIRD_PATHS]) : rng.pick(JSON_VALUES)();
      what.push(`value ${JSON.stringify(value)?.slice(0, 30)} -> ${JSON.stringify(v)?.slice(0, 40)}`);
      return v;
    }
    return value;
  }
  if (Array.isArray(value)) {
    const arr = value.map((v) => (rng.chance(0.5) ? mutateJson(rng, v, what, depth + 1) : v));
    if (rng.chance(0.1)) {
      arr.push(rng.pick(JSON_VALUES)());
      what.push('array element added');
    }
    if (rng.chance(0.1) && arr.length) {
      arr.splice(rng.int(arr.length), 1);
      what.push('array element removed');
    }
    if (rng.chance(0.05)) {
      const n = rng.pick([1000, 20_000]);
      const first = arr[0] ?? null;
      for (let i = 0; i < n; i++) arr.push(first);
      what.push(`array ×${n}`);
    }
    return arr;
  }
  const out: { [k: string]: Json } = {};
  for (const [k, v] of Object.entries(value)) {
    if (rng.chance(0.08)) {
      what.push(`key ${k} removed`);
      continue;
    }
    if (rng.chance(0.12)) {
      const v2 = rng.pick(JSON_VALUES)();
      what.push(`${k} -> ${JSON.stringify(v2)?.slice(0, 40)}`);
      out[k] = v2;
      continue;
    }
    out[k] = depth < 6 ? mutateJson(rng, v, what, depth + 1) : v;
  }
  if (rng.chance(0.1)) {
    const k = rng.pick(['__proto__', 'constructor', 'extra', '', 'type', 'source', 'files', 'operations', 'permission', 'kind', 'repo_ids']);
    const v = rng.pick(JSON_VALUES)();
    Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    what.push(`key ${JSON.stringify(k)} added`);
  }
  return out;
}

function deepNest(depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth);
}

function restCase(rng: Rng, env: GenEnv, c: FuzzCase): void {
  const templates = restTemplates(env, rng);
  const t = rng.weighted(templates.map((x) => [x, x.weight] as const));
  c.method = t.method;
  c.path = t.path;
  c.mayWrite = t.mayWrite;
  c.bodyKind = 'json';
  c.headers = [rng.chance(0.9) ? bearer(t.token) : basic('x', t.token)];
  c.what.push(`${t.method} ${t.path}`);
  let text: string;
  const mode = rng.weighted<string>([
    ['structure', 6],
    ['text', 3],
    ['nest', 0.3],
    ['dup-keys', 0.5],
    ['valid', 0.5],
    ['non-object', 0.7],
  ]);
  if (mode === 'structure') {
    const before = c.what.length;
    let v = mutateJson(rng, t.body, c.what);
    if (c.what.length === before) v = mutateJson(rng, mutateJson(rng, t.body, c.what), c.what);
    text = JSON.stringify(v);
  } else if (mode === 'text') {
    const m = mutateBytes(rng, Buffer.from(JSON.stringify(t.body)));
    text = m.body.toString('latin1');
    c.what.push(...m.what);
    c.body = m.body;
  } else if (mode === 'nest') {
    const d = rng.pick([1000, 100_000]);
    text = `{"name":${deepNest(d)}}`;
    c.what.push(`nested ${d} deep`);
  } else if (mode === 'dup-keys') {
    text = JSON.stringify(t.body).replace(/^\{/, '{"name":"dup","name":{"a":1},');
    c.what.push('duplicate keys');
  } else if (mode === 'non-object') {
    text = rng.pick(['null', '[]', '"x"', '1', 'true', '', ' ', '{}', '[{}]']);
    c.what.push(`body ${JSON.stringify(text)}`);
  } else {
    text = JSON.stringify(t.body);
    c.what.push('unmutated');
  }
  c.body ??= Buffer.from(text, 'utf8');
  const ct = rng.weighted<string>([
    ['application/json', 12],
    ['application/json; charset=utf-8', 2],
    ['application/json; charset=utf-16', 1],
    ['application/json; charset=latin1', 1],
    ['text/plain', 1],
    ['application/merge-patch+json', 1],
    ['', 1],
    ['multipart/form-data; boundary=x', 1],
  ]);
  if (ct) c.headers.push(['Content-Type', ct]);
  if (ct !== 'application/json') c.what.push(`Content-Type ${JSON.stringify(ct)}`);
  c.chunked = rng.chance(0.1);
  if (rng.chance(0.2)) {
    // GET routes with query strings instead
    const q = rng.pick([
      `/v1/repo?page_size=${rng.pick(['-1', '0', '1e9', 'abc', '99999999999999999999', '1.5'])}&page_start=${rng.pick(['-5', 'x', '0'])}`,
      `/v1/repo?order_by=${rng.pick(['created_at', 'name;drop', '__proto__'])}&order_descending=${rng.pick(['maybe', 'true', '1'])}`,
      `/v1/repo?filter_metadata=${encodeURIComponent(rng.pick(['{"a":1}', '[1]', 'null', '{', '{"team":"fuzz"}', '{"__proto__":{"x":"y"}}']))}`,
      `/v1/repo?created_after=${rng.pick(['yesterday', '2026-13-45', '9999999999999', ''])}`,
      `/v1/repo_token?page_size=${rng.pick(['5', '-1', 'x'])}&repo_id=${rng.pick(['', env.target.id, '../x', '%00'])}&include_revoked=${rng.pick(['1', 'yes'])}`,
      `/v1/repo/${env.target.name}/clone?commit=${rng.pick([env.corpus.refs['refs/heads/main'], rng.hex(40), 'HEAD', 'main', '../../x', env.corpus.oids.tree[0], env.corpus.oids.blob[0], env.corpus.oids.tag[0], ''])}`,
      `/v1/repo/${env.target.name}/file/${encodeURIComponent(rng.pick(env.corpus.files))}?commit=${rng.pick([rng.hex(40), env.corpus.oids.blob[0], 'x'])}`,
      `/v1/repo_token/${rng.pick(['tok_' + 'A'.repeat(16), 'ggr_' + 'A'.repeat(54), '', '%00', '..'])}`,
      `/v1/repo/${env.target.name}?x=${'y'.repeat(rng.pick([10, 5000]))}`,
    ]);
    c.method = 'GET';
    c.path = q;
    c.body = undefined;
    c.mayWrite = false;
    c.what.splice(0, c.what.length, `GET ${q.slice(0, 120)}`);
  }
}

/** Percent-encodes the UTF-8 bytes of `s` except characters matching `keep` (and not `force`). */
function pct(s: string, keep: RegExp, force?: RegExp): string {
  let out = '';
  for (const ch of s) {
    if (keep.test(ch) && !(force && force.test(ch))) out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Encodes a file path for a URL in one of the ways clients (and attackers) do. */
function encodePath(rng: Rng, p: string): { url: string; how: string } {
  const how = rng.pick(['raw', 'segment', 'component', 'double', 'partial', 'overlong', 'backslash', 'mixed-case']);
  const enc = (s: string) => pct(s, /[A-Za-z0-9\-_.!~*'()]/).replace(/\./g, rng.chance(0.3) ? '%2e' : '.');
  let url: string;
  switch (how) {
    case 'raw':
      url = pct(p, /[!-~]/, /[%?#]/);
      break;
    case 'segment':
      url = p.split('/').map(enc).join('/');
      break;
    case 'component':
      url = enc(p);
      break;
    case 'double':
      url = enc(enc(p));
      break;
    case 'partial':
      url = p.split('/').map((s, i) => (i % 2 ? enc(s) : pct(s, /[A-Za-z0-9._~-]/))).join(rng.pick(['/', '%2F', '%2f']));
      break;
    case 'overlong':
      url = p.replace(/\./g, '%c0%ae').replace(/\//g, rng.pick(['%c0%af', '/']));
      break;
    case 'backslash':
      url = p.replace(/\//g, '%5C');
      break;
    default:
      url = enc(p).replace(/%2F/g, '%2f');
  }
  return { url, how };
}

/** What the server should see for a wildcard path (Express decodes each segment; %2F splits too). */
function serverPath(url: string): string | null {
  try {
    return url.split('/').map((s) => decodeURIComponent(s)).join('/');
  } catch {
    return null;
  }
}

function filePathCase(rng: Rng, env: GenEnv, c: FuzzCase): void {
  const p = rng.chance(0.8) ? rng.pick(WEIRD_PATHS) : mutateBytes(rng, Buffer.from(rng.pick(WEIRD_PATHS))).body.toString('utf8');
  const { url, how } = encodePath(rng, p);
  c.method = rng.weighted([
    ['GET', 4],
    ['PUT', 4],
    ['DELETE', 2],
  ] as const);
  c.path = `/v1/repo/${env.target.name}/file/${url}`;
  c.filePath = serverPath(url);
  c.headers = [bearer(c.method === 'GET' ? env.tokens.read : env.tokens.write)];
  if (c.method === 'PUT') {
    c.body = rng.chance(0.8) ? Buffer.from(`fuzz ${rng.hex(8)}\n`) : rng.bytes(rng.range(0, 512));
    c.headers.push(['Content-Type', rng.pick(['application/octet-stream', 'text/plain', 'application/json', 'application/x-www-form-urlencoded'])]);
  }
  c.mayWrite = c.method !== 'GET';
  c.bodyKind = c.method === 'GET' ? 'any' : 'json';
  c.what.push(`${c.method} file ${JSON.stringify(p.slice(0, 80))} encoded ${how}`);
}

// ---------------------------------------------------------------- URLs

function urlPathCase(rng: Rng, env: GenEnv, c: FuzzCase): void {
  // names, not ids, where the path gets mutated: ids differ between runs, names do not
  const id = rng.pick([env.target.name, env.target.name, `${env.target.name}.git`, env.target.id, SCRATCH]);
  const templates = [
    `/v1/repo/${id}/info/refs?service=git-upload-pack`,
    `/v1/repo/${id}/info/refs?service=git-receive-pack`,
    `/v1/repo/${id}/git-upload-pack`,
    `/v1/repo/${id}/git-receive-pack`,
    `/v1/repo/${id}`,
    `/v1/repo/${id}/clone`,
    `/v1/repo/${id}/file/README.md`,
    `/v1/repo/${id}/HEAD`,
    `/v1/repo/${id}/objects/info/packs`,
    `/v1/repo_token`,
    `/v1/repo`,
    `/healthz`,
    `/v1/openapi.json`,
  ];
  let p = rng.pick(templates);
  const op = rng.pick(['traversal', 'encoded-slash', 'nul', 'long', 'double-slash', 'dots', 'bytes', 'query', 'unicode', 'absolute', 'case']);
  switch (op) {
    case 'traversal':
      p = p.replace(id, rng.pick([`${id}/..`, `../${id}`, `..%2F..%2F${id}`, `${id}/../../v1/repo/${id}`, `%2e%2e/${id}`, `..%5c${id}`]));
      break;
    case 'encoded-slash':
      p = p.replace(/\//g, (m) => (rng.chance(0.3) ? '%2F' : m));
      break;
    case 'nul':
      p = p.replace(id, `${id}${rng.pick(['%00', '\0', '%00.git', '\0.git'])}`);
      break;
    case 'long':
      p = p.replace(id, `${id}${'a'.repeat(rng.pick([300, 5000, 20_000, 100_000]))}`);
      break;
    case 'double-slash':
      p = p.replace(/\//g, (m) => (rng.chance(0.3) ? '//' : m));
      break;
    case 'dots':
      p = p.replace(/\//g, (m) => (rng.chance(0.3) ? '/./' : m));
      break;
    case 'bytes':
      p = mutateBytes(rng, Buffer.from(p, 'latin1')).body.toString('latin1').replace(/[\r\n ]/g, '%20');
      break;
    case 'query':
      p = `${p}${p.includes('?') ? '&' : '?'}${rng.pick(['service=git-upload-pack', 'service[]=x', 'service=', 'a=%', '%%%', 'service=git-upload-pack%00', '&&&&', 'x='.repeat(1000)])}`;
      break;
    case 'unicode':
      p = p.replace(id, `${id}${rng.pick(['%C3%A9', '%FF', '%E2%80%AE', '%F0%9F%98%80', '%ED%A0%80'])}`);
      break;
    case 'absolute':
      p = `http://127.0.0.1${p}`;
      break;
    case 'case':
      p = p.replace(/v1\/repo/, rng.pick(['V1/REPO', 'v1/Repo', 'v1/repo/']));
      break;
  }
  const isReceive = p.includes('receive-pack') && !p.includes('info/refs');
  c.method = rng.weighted([
    ['GET', 6],
    ['POST', 3],
    ['HEAD', 1],
    ['OPTIONS', 1],
    ['PATCH', 0.5],
    ['PROPFIND', 0.5],
    ['DELETE', 1],
    ['TRACE', 0.3],
  ] as const);
  // DELETE with a token that cannot delete the target (and may at most revoke itself)
  const tok = c.method === 'DELETE' ? env.tokens.victim : rng.chance(0.5) ? env.tokens.admin : env.tokens.read;
  c.headers = [gitCred(rng, tok)];
  if (c.method === 'POST') {
    c.headers.push(['Content-Type', isReceive ? 'application/x-git-receive-pack-request' : p.includes('upload-pack') ? 'application/x-git-upload-pack-request' : 'application/json']);
    c.body = isReceive ? Buffer.from('0000') : p.includes('upload-pack') ? rng.pick(env.corpus.upload0).body : Buffer.from('{}');
  }
  c.path = p;
  // a write token may legitimately delete a file through an odd but valid URL
  c.mayWrite = c.method !== 'GET' && c.method !== 'HEAD';
  c.bodyKind = 'any';
  c.what.push(`${c.method} ${op}: ${JSON.stringify(p.slice(0, 120))}${p.length > 120 ? `… (${p.length} chars)` : ''}`);
}

// ---------------------------------------------------------------- auth

const B62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function checksum(body: string): string {
  let v = zlib.crc32(body) >>> 0;
  let out = '';
  for (let i = 0; i < 6; i++) {
    out = B62[v % 62] + out;
    v = Math.floor(v / 62);
  }
  return out;
}

/** Secrets that are not valid for anything (the oracle requires 401 for every one). */
function nearMiss(rng: Rng, secret: string, tokens: Tokens): { value: string; what: string } {
  const body = secret.slice(0, -6);
  const flipChar = (s: string, i: number) => s.slice(0, i) + B62[(B62.indexOf(s[i]!) + 1 + rng.int(60)) % 62] + s.slice(i + 1);
  const choice = rng.pick(['one-char', 'crc-fixed-random', 'crc-fixed-id', 'kind-swap', 'truncate', 'extend', 'case', 'revoked', 'expired', 'token-id', 'empty', 'whitespace', 'unicode', 'long', 'swap-adjacent', 'prefix-only']);
  switch (choice) {
    case 'one-char': {
      const i = rng.range(4, secret.length - 1);
      return { value: flipChar(secret, i), what: `one character changed at ${i}` };
    }
    case 'crc-fixed-random': {
      const i = rng.range(20, body.length - 1);
      const b = flipChar(body, i);
      return { value: b + checksum(b), what: `random part changed at ${i}, checksum recomputed (known id, wrong secret)` };
    }
    case 'crc-fixed-id': {
      const i = rng.range(4, 19);
      const b = flipChar(body, i);
      return { value: b + checksum(b), what: `id changed at ${i}, checksum recomputed (unknown id)` };
    }
    case 'kind-swap': {
      const b = (body.startsWith('ggw_') ? 'ggr_' : 'ggw_') + body.slice(4);
      return { value: rng.chance(0.5) ? b + checksum(b) : b + secret.slice(-6), what: 'kind prefix swapped' };
    }
    case 'truncate':
      return { value: secret.slice(0, rng.int(secret.length)), what: 'truncated' };
    case 'extend':
      return { value: secret + rng.pick(['x', '0', ' x', '\t', 'ggw_']), what: 'extended' };
    case 'case':
      return { value: secret.slice(0, 4) + secret.slice(4).replace(/[a-z]/, (ch) => ch.toUpperCase()), what: 'case of one letter changed' };
    case 'revoked':
      return { value: tokens.revoked, what: 'revoked token' };
    case 'expired':
      return { value: tokens.expired, what: 'expired token' };
    case 'token-id':
      return { value: `tok_${body.slice(4, 20)}`, what: 'public token id instead of the secret' };
    case 'empty':
      return { value: '', what: 'empty' };
    case 'whitespace':
      return { value: secret.replace(/(.{10})/, '$1 '), what: 'space inside' };
    case 'unicode':
      return { value: secret.slice(0, 10) + 'é' + secret.slice(11), what: 'non-ASCII character inside' };
    case 'long':
      return { value: secret.repeat(rng.pick([2, 100, 200])), what: 'repeated' };
    case 'swap-adjacent': {
      const i = rng.range(4, secret.length - 2);
      return { value: secret.slice(0, i) + secret[i + 1] + secret[i] + secret.slice(i + 2), what: `adjacent characters swapped at ${i}` };
    }
    default:
      return { value: secret.slice(0, 4), what: 'prefix only' };
  }
}

function authCase(rng: Rng, env: GenEnv, c: FuzzCase): void {
  const routes = [
    { method: 'GET', path: gitPath(rng, env, '/info/refs?service=git-upload-pack'), kind: 'advert-v0' as BodyKind, need: 'read' },
    { method: 'GET', path: gitPath(rng, env, '/info/refs?service=git-receive-pack'), kind: 'advert-v0' as BodyKind, need: 'write' },
    { method: 'POST', path: gitPath(rng, env, '/git-upload-pack'), kind: 'upload-v0' as BodyKind, need: 'read' },
    { method: 'POST', path: gitPath(rng, env, '/git-receive-pack'), kind: 'receive' as BodyKind, need: 'write' },
    { method: 'GET', path: `/v1/repo/${env.target.name}`, kind: 'json' as BodyKind, need: 'read' },
    { method: 'GET', path: `/v1/repo/${env.target.name}/file/README.md`, kind: 'any' as BodyKind, need: 'read' },
    { method: 'POST', path: `/v1/repo/${env.target.name}/retrieve`, kind: 'json' as BodyKind, need: 'read' },
    { method: 'GET', path: '/v1/repo_token', kind: 'json' as BodyKind, need: 'admin' },
    { method: 'POST', path: '/v1/repo', kind: 'json' as BodyKind, need: 'workspace' },
  ];
  const r = rng.pick(routes);
  c.method = r.method;
  c.path = r.path;
  c.bodyKind = r.kind;
  if (r.method === 'POST') {
    if (r.path.endsWith('git-upload-pack')) {
      c.headers = [['Content-Type', 'application/x-git-upload-pack-request']];
      c.body = rng.pick(env.corpus.upload0).body;
    } else if (r.path.endsWith('git-receive-pack')) {
      // a valid push: only the credential stands between it and the repository
      const s = env.corpus.pushes.find((p) => p.name.startsWith('pack-objects ofs'))!;
      c.headers = [['Content-Type', 'application/x-git-receive-pack-request']];
      c.body = Buffer.concat([s.commands, s.pack]);
      c.mayWrite = true;
    } else {
      c.headers = [['Content-Type', 'application/json']];
      c.body = Buffer.from(r.path === '/v1/repo' ? JSON.stringify({ name: `fz-auth-${rng.hex(6)}` }) : '{"query":"x"}');
    }
  } else c.headers = [];
  const T = env.tokens;
  const mode = rng.weighted<string>([
    ['near-miss', 6],
    ['malformed', 4],
    ['scope', 2],
    ['permission', 2],
  ]);
  const want401 = () => {
    c.expectStatus = [401];
    c.expectWhy = 'invalid credentials must get 401';
  };
  if (mode === 'near-miss') {
    const base = rng.pick([T.admin, T.write, T.read]);
    const nm = nearMiss(rng, base, T);
    const header = rng.weighted<() => [string, string]>([
      [() => bearer(nm.value), 3],
      [() => basic('token', nm.value), 3],
      [() => basic(nm.value, ''), 1],
      [() => basic(nm.value, nm.value), 1],
      [() => ['Authorization', `token ${nm.value}`], 1],
    ])();
    c.headers.unshift(header);
    c.credential = nm.value;
    c.what.push(`${header[1].split(' ')[0]} with ${nm.what}`);
    // an "extension" that is only surrounding whitespace leaves a valid secret
    if (!decodeCandidates(header[1]).some((s) => [T.admin, T.write, T.read, T.other].includes(s.trim()))) want401();
  } else if (mode === 'malformed') {
    const v = rng.pick([
      'Basic',
      'Basic ',
      'Basic !!!!',
      'Basic ====',
      'Basic dG9rZW4=',
      `Basic ${Buffer.from('token:').toString('base64')}`,
      `Basic ${Buffer.from(':').toString('base64')}`,
      `Basic ${Buffer.from('\0:\0').toString('base64')}`,
      `Basic ${rng.bytes(48).toString('base64')}`,
      `Basic ${'A'.repeat(rng.pick([100, 8000, 20_000]))}`,
      `Basic ${Buffer.from(`token:${T.admin}`).toString('base64').slice(0, -3)}`,
      `Basic ${Buffer.from(`token:${T.admin}`).toString('base64').replace(/[A-Z]/, '*')}`,
      `Basic ${Buffer.from(`token:${T.admin}`).toString('base64url').replace(/=+$/, '')}#`,
      'Bearer',
      'Bearer ',
      'Bearer  ',
      'Digest username="x"',
      'Negotiate YII=',
      'bearer',
      `Bearer${T.admin}`,
      `${T.admin}`,
      'Bearer null',
      'Bearer undefined',
      'Bearer [object Object]',
      `Bearer ${T.admin.slice(0, 20)}\u00e9${T.admin.slice(21)}`,
      '\u00ff\u00fe',
    ]);
    c.headers.unshift(['Authorization', v]);
    c.what.push(`Authorization ${JSON.stringify(v.slice(0, 80))}`);
    // some of these still carry a valid secret in a shape the server may accept
    if (!decodeCandidates(v).some((s) => [T.admin, T.write, T.read, T.other].includes(s.trim()))) want401();
    else c.expectStatus = undefined;
    if (rng.chance(0.2)) {
      c.headers.push(['Authorization', `Bearer ${T.admin}`]);
      c.what.push('second Authorization header with a valid token');
      c.expectStatus = undefined;
    }
  } else if (mode === 'scope') {
    c.headers.unshift(gitCred(rng, T.other));
    c.what.push('token scoped to another repository');
    if (r.need === 'admin') c.expectStatus = undefined;
    else if (r.need === 'workspace') c.expectStatus = [403];
    else c.expectStatus = [404];
    c.expectWhy = 'a repository outside the token scope must look like a missing one (404); control plane 403';
  } else {
    c.headers.unshift(gitCred(rng, T.read));
    c.what.push('read token');
    if (r.need === 'write' || r.need === 'workspace') {
      c.expectStatus = [403];
      c.expectWhy = 'too little permission must get 403';
    }
  }
}

/** The strings a server may take as the secret from an Authorization header (spec §3). */
export function decodeCandidates(header: string): string[] {
  const sp = header.indexOf(' ');
  if (sp < 0) return [];
  const scheme = header.slice(0, sp).toLowerCase();
  const value = header.slice(sp + 1).trim();
  if (scheme === 'bearer' || scheme === 'token') return [value];
  if (scheme !== 'basic') return [];
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? [decoded] : [decoded.slice(0, colon), decoded.slice(colon + 1)];
}

function infoRefsCase(rng: Rng, env: GenEnv, c: FuzzCase): void {
  const service = rng.weighted<string | null>([
    ['git-upload-pack', 6],
    ['git-receive-pack', 3],
    [null, 1],
    ['', 1],
    ['git-upload-archive', 1],
    ['git-upload-pack%00', 1],
    ['GIT-UPLOAD-PACK', 1],
    ['git-upload-pack&service=git-receive-pack', 1],
  ]);
  c.method = rng.chance(0.9) ? 'GET' : 'HEAD';
  c.path = gitPath(rng, env, service === null ? '/info/refs' : `/info/refs?service=${service}`);
  c.headers = [gitCred(rng, rng.chance(0.7) ? env.tokens.admin : env.tokens.read)];
  const proto = rng.pick([null, 'version=2', 'version=1', 'version=0', 'version=2:object-format=sha256', 'version=3', 'version=2:version=2', '\u00ff', 'x'.repeat(8000)]);
  if (proto !== null) c.headers.push(['Git-Protocol', proto]);
  c.bodyKind = c.method === 'HEAD' ? 'any' : service === 'git-upload-pack' && proto && /(^|:)version=2(:|$)/.test(proto) ? 'advert-v2' : 'advert-v0';
  c.what.push(`${c.method} info/refs service=${JSON.stringify(service)} Git-Protocol=${JSON.stringify(proto?.slice(0, 40) ?? null)}`);
}

// ---------------------------------------------------------------- entry point

export function generateCase(seed: number, index: number, env: GenEnv, only?: Category[]): FuzzCase {
  const rng = Rng.forCase(seed, index);
  const cats = (only?.length ? only : CATEGORIES).map((cat) => [cat, WEIGHTS[cat]] as const);
  const category = rng.weighted(cats);
  const c: FuzzCase = { index, category, what: [], method: 'GET', path: '/', headers: [], bodyKind: 'any', mayWrite: false };
  const sub = rng.fork(category);
  switch (category) {
    case 'upload-v0':
      uploadCase(sub, env, false, c);
      break;
    case 'upload-v2':
      uploadCase(sub, env, true, c);
      break;
    case 'receive-cmd':
      receiveCmdCase(sub, env, c);
      break;
    case 'receive-pack':
      receivePackCase(sub, env, c);
      break;
    case 'gzip':
      gzipCase(sub, env, c);
      break;
    case 'bomb':
      bombCase(sub, env, c);
      break;
    case 'rest-json':
      restCase(sub, env, c);
      break;
    case 'file-path':
      filePathCase(sub, env, c);
      break;
    case 'url-path':
      urlPathCase(sub, env, c);
      break;
    case 'auth':
      authCase(sub, env, c);
      break;
    case 'info-refs':
      infoRefsCase(sub, env, c);
      break;
    case 'tokens':
      tokenCase(sub, env, c);
      break;
  }
  if (Buffer.isBuffer(c.body)) c.bodyLength = c.body.length;
  if (!c.credential) {
    const auth = c.headers.find(([k]) => k.toLowerCase() === 'authorization');
    if (auth) c.credential = decodeCandidates(auth[1]).find((s) => s.length >= 20) ?? undefined;
  }
  return c;
}
