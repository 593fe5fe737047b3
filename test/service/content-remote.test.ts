// The smart-HTTP fetch client against hand-rolled servers: packs made by C Git without
// side-band, redirects, errors on side-band 3, HTML pages, auth failures, truncated packs.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLUSH, pktText } from '../../src/protocol/pkt-line.js';
import { RequestPolicy } from '../../src/net/request-policy.js';
import { chooseRemoteRef, fetchBranch, parseRemoteUrl } from '../../src/service/content/git-remote.js';
import { commitFiles, gitBytes, gitOk, tmpDir } from '../helpers/git.js';
import { serviceEnv, type ServiceEnv } from './helpers.js';

describe('parseRemoteUrl', () => {
  it('moves credentials into a Basic header and out of everything printable', () => {
    const ep = parseRemoteUrl('https://user:p%40ss@example.com/org/repo.git/?x=1#frag');
    expect(ep.display).toBe('https://example.com/org/repo.git');
    expect(ep.base.toString()).toBe('https://example.com/org/repo.git');
    expect(ep.authorization).toBe(`Basic ${Buffer.from('user:p@ss').toString('base64')}`);
    expect(parseRemoteUrl('http://example.com/r').authorization).toBe(null);
    expect(() => parseRemoteUrl('git://example.com/r')).toThrow(/http/);
    expect(() => parseRemoteUrl('/local/path')).toThrow(/not a valid URL/);
  });

  it('chooses the named branch, else HEAD, else a branch', () => {
    const ep = parseRemoteUrl('http://h/r');
    const refs = new Map([
      ['HEAD', 'b'.repeat(40)],
      ['refs/heads/main', 'a'.repeat(40)],
      ['refs/heads/dev', 'b'.repeat(40)],
    ]);
    expect(chooseRemoteRef(ep, { refs, capabilities: new Set(), headTarget: 'refs/heads/main' }, null)).toEqual({ ref: 'refs/heads/main', oid: 'a'.repeat(40) });
    expect(chooseRemoteRef(ep, { refs, capabilities: new Set(), headTarget: null }, null)).toEqual({ ref: 'refs/heads/dev', oid: 'b'.repeat(40) });
    expect(chooseRemoteRef(ep, { refs, capabilities: new Set(), headTarget: null }, 'main').oid).toBe('a'.repeat(40));
    expect(() => chooseRemoteRef(ep, { refs, capabilities: new Set(), headTarget: null }, 'nope')).toThrow(/Branch nope not found/);
    expect(chooseRemoteRef(ep, { refs: new Map(), capabilities: new Set(), headTarget: null }, null)).toEqual({ ref: null, oid: null });
  });
});

// these servers listen on loopback: allowed explicitly, as an operator would
const policy = new RequestPolicy(['127.0.0.0/8']);

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => void;

describe('fetchBranch against other servers', () => {
  let env: ServiceEnv;
  let server: http.Server;
  let base: string;
  let handler: Handler;
  let head: string;
  let pack: Buffer;

  beforeAll(async () => {
    env = serviceEnv('memory');
    // a real repository and a pack of it made by C Git
    const work = path.join(tmpDir(), 'w');
    await gitOk(['init', '-q', '-b', 'main', work]);
    await commitFiles(work, { 'a.txt': 'a\n', 'dir/b.txt': 'b\n' }, 'one');
    head = await commitFiles(work, { 'a.txt': 'a2\n' }, 'two');
    pack = (await gitBytes(['pack-objects', '--stdout', '--revs', '-q'], { cwd: work, input: `${head}\n` })).stdout;
    expect(pack.subarray(0, 4).toString()).toBe('PACK');
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => handler(req, res, Buffer.concat(chunks)));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    await env.close();
  });

  const advertisement = (caps: string) =>
    Buffer.concat([pktText('# service=git-upload-pack'), FLUSH, pktText(`${head} HEAD\0${caps}`), pktText(`${head} refs/heads/main`), FLUSH]);

  /** A v0 server; `respond` produces the upload-pack result. */
  const v0 = (caps: string, respond: (body: Buffer) => Buffer, seen?: { auth?: string; wants?: string }): Handler => (req, res, body) => {
    if (seen) seen.auth = req.headers.authorization;
    if (req.method === 'GET' && req.url!.endsWith('/info/refs?service=git-upload-pack')) {
      res.writeHead(200, { 'Content-Type': 'application/x-git-upload-pack-advertisement' }).end(advertisement(caps));
    } else if (req.method === 'POST' && req.url!.endsWith('/git-upload-pack')) {
      if (seen) seen.wants = body.toString('latin1');
      res.writeHead(200, { 'Content-Type': 'application/x-git-upload-pack-result' }).end(respond(body));
    } else res.writeHead(404).end();
  };

  it('fetches a pack sent without side-band, with credentials only in the Authorization header', async () => {
    const seen: { auth?: string; wants?: string } = {};
    handler = v0('ofs-delta symref=HEAD:refs/heads/main', () => Buffer.concat([pktText('NAK'), pack]), seen);
    const { repo } = await env.repo();
    const got = await fetchBranch(repo, { url: `http://me:s3cret@127.0.0.1:${new URL(base).port}/x.git` }, { policy });
    expect(got).toMatchObject({ ref: 'refs/heads/main', branch: 'main', oid: head });
    expect(seen.auth).toBe(`Basic ${Buffer.from('me:s3cret').toString('base64')}`);
    expect(seen.wants).toContain(`want ${head} ofs-delta agent=gitgate`);
    expect(seen.wants).not.toContain('side-band');
    expect((await repo.objects.readType(head))?.type).toBe('commit');
  });

  it('fetches a pack multiplexed on side-band-64k with progress', async () => {
    handler = v0('side-band-64k ofs-delta', () => {
      const parts = [pktText('NAK'), pktText(Buffer.concat([Buffer.from([2]), Buffer.from('Counting objects\n')]).toString('latin1'))];
      for (let i = 0; i < pack.length; i += 1000) parts.push(pktLineBytes(Buffer.concat([Buffer.from([1]), pack.subarray(i, i + 1000)])));
      parts.push(FLUSH);
      return Buffer.concat(parts);
    });
    const { repo } = await env.repo();
    expect((await fetchBranch(repo, { url: `${base}/x.git`, branch: 'main' }, { policy })).oid).toBe(head);
  });

  it('follows a redirect of info/refs and sends later requests to the new place', async () => {
    const posts: string[] = [];
    const inner = v0('ofs-delta', () => Buffer.concat([pktText('NAK'), pack]));
    handler = (req, res, body) => {
      if (req.url!.startsWith('/old/')) {
        res.writeHead(301, { Location: `/new/repo.git/info/refs?service=git-upload-pack` }).end();
        return;
      }
      if (req.method === 'POST') posts.push(req.url!);
      inner(req, res, body);
    };
    const { repo } = await env.repo();
    expect((await fetchBranch(repo, { url: `${base}/old/repo.git` }, { policy })).oid).toBe(head);
    expect(posts).toEqual(['/new/repo.git/git-upload-pack']);
  });

  it('reports side-band errors, ERR lines, truncated packs, HTML pages and auth failures, storing nothing', async () => {
    const cases: [Handler, RegExp, string][] = [
      [v0('side-band-64k', () => Buffer.concat([pktText('NAK'), pktLineBytes(Buffer.concat([Buffer.from([3]), Buffer.from('upload-pack: out of memory\n')])), FLUSH])), /out of memory/, 'SOURCE_PROTOCOL'],
      [v0('ofs-delta', () => pktText('ERR access denied or repository not exported')), /access denied/, 'SOURCE_PROTOCOL'],
      [v0('ofs-delta', () => Buffer.concat([pktText('NAK'), pack.subarray(0, pack.length - 30)])), /pack/i, 'BAD_PACK'],
      [(_req, res) => res.writeHead(200, { 'Content-Type': 'text/html' }).end('<html>login</html>'), /not a Git repository served over smart HTTP/, 'SOURCE_NOT_GIT'],
      [(_req, res) => res.writeHead(401, { 'WWW-Authenticate': 'Basic' }).end(), /refused access \(HTTP 401\)/, 'SOURCE_ACCESS_DENIED'],
      [(_req, res) => res.writeHead(503).end(), /is unreachable/, 'SOURCE_UNREACHABLE'],
      [(_req, res) => res.writeHead(200, { 'Content-Type': 'application/x-git-upload-pack-advertisement' }).end('garbage!'), /invalid response/, 'SOURCE_PROTOCOL'],
    ];
    for (const [h, message, code] of cases) {
      handler = h;
      const { repo } = await env.repo();
      const before = await env.ctx.storage.readdir(`${repo.gitdir}/objects/pack`);
      const err = await fetchBranch(repo, { url: `http://u:topsecret@127.0.0.1:${new URL(base).port}/x.git` }, { policy }).catch((e: unknown) => e);
      expect(err, code).toMatchObject({ code });
      expect((err as Error).message).toMatch(message);
      expect((err as Error).message).not.toContain('topsecret');
      expect(await env.ctx.storage.readdir(`${repo.gitdir}/objects/pack`)).toEqual(before);
      expect(await repo.objects.has(head)).toBe(false);
    }
  });
});

function pktLineBytes(payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from((payload.length + 4).toString(16).padStart(4, '0')), payload]);
}
