// Server-side requests of the `git` source (POST /v1/repo, POST /v1/repo/:id/update), tried
// the way an attacker holding a write token would: every spelling of an internal address is
// refused with 400 SOURCE_FORBIDDEN before any connection (recording listeners prove no
// connection was made), every redirect hop is checked, credentials in the URL go only to their
// origin, and failures do not tell an unreachable host from a refused port.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordingListener, type Listener, type ListenerHandler } from '../helpers/listener.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const auth = (t: string) => ({ Authorization: `Bearer ${t}` });
const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
const INFO_REFS = '/info/refs?service=git-upload-pack';

async function repoDirs(s: TestServer): Promise<string[]> {
  return (await s.ctx.storage.readdir(s.ctx.storage.root)).filter((n) => n.endsWith('.git')).sort();
}

describe('git sources never reach internal addresses by default', () => {
  let s: TestServer;
  let v4: Listener;
  let v6: Listener;
  beforeAll(async () => {
    s = await startTestServer('fs');
    // the same port on both loopbacks, so every spelling below would land on a listener
    v4 = await recordingListener(undefined, '127.0.0.1');
    v6 = await recordingListener(undefined, '::1', v4.port);
  });
  afterAll(async () => {
    await v4?.close();
    await v6?.close();
    await s?.close();
  });

  const loopbackSpellings = () => {
    const p = v4.port;
    return [
      `http://localhost:${p}/r.git`,
      `http://LocalHost:${p}/r.git`,
      `http://127.0.0.1:${p}/r.git`,
      `http://127.1:${p}/r.git`,
      `http://2130706433:${p}/r.git`,
      `http://0x7f000001:${p}/r.git`,
      `http://0177.0.0.1:${p}/r.git`,
      `http://127.0.0.2:${p}/r.git`,
      `http://0.0.0.0:${p}/r.git`,
      `http://[::1]:${p}/r.git`,
      `http://[::ffff:127.0.0.1]:${p}/r.git`,
      `http://[::ffff:7f00:1]:${p}/r.git`,
      `http://[::127.0.0.1]:${p}/r.git`,
      `http://[::]:${p}/r.git`,
      `http://[0:0:0:0:0:ffff:127.0.0.1]:${p}/r.git`,
      `https://127.0.0.1:${p}/r.git`,
      `https://localhost:${p}/r.git`,
      `http://alice:pat@127.0.0.1:${p}/r.git`,
    ];
  };

  it('refuses every spelling of loopback with 400 SOURCE_FORBIDDEN, connecting nowhere and creating nothing', async () => {
    const dirs = await repoDirs(s);
    for (const url of loopbackSpellings()) {
      const res = await s.api.post('/v1/repo').set(auth(s.admin)).send({ source: { type: 'git', url } });
      expect(res.status, url).toBe(400);
      expect(res.body.error.code, url).toBe('SOURCE_FORBIDDEN');
      expect(res.body.error.message).toMatch(/may not be fetched: (loopback|unspecified) address$/);
      expect(JSON.stringify(res.body)).not.toContain('pat');
    }
    expect(v4.connections + v6.connections).toBe(0);
    expect(await repoDirs(s)).toEqual(dirs);
    expect((await s.api.get('/healthz')).status).toBe(200);
  });

  it('refuses private, link-local (cloud metadata), shared, multicast and reserved addresses', async () => {
    const cases: [string, string][] = [
      ['http://10.0.0.1/r.git', 'private'],
      ['http://172.16.5.4/r.git', 'private'],
      ['http://192.168.1.1/r.git', 'private'],
      ['http://169.254.169.254/latest/meta-data', 'link-local'],
      ['http://100.64.0.1/r.git', 'shared (CGNAT)'],
      ['http://224.0.0.1/r.git', 'multicast'],
      ['http://255.255.255.255/r.git', 'reserved'],
      ['http://[fd00::1]/r.git', 'private'],
      ['http://[fe80::1]/r.git', 'link-local'],
      ['http://[ff02::1]/r.git', 'multicast'],
      ['http://[::ffff:10.0.0.1]/r.git', 'private'],
      ['http://[::ffff:169.254.169.254]/r.git', 'link-local'],
      ['http://[64:ff9b::a9fe:a9fe]/r.git', 'link-local'],
    ];
    for (const [url, category] of cases) {
      const res = await s.api.post('/v1/repo').set(auth(s.admin)).send({ source: { type: 'git', url } });
      expect(res.status, url).toBe(400);
      expect(res.body.error, url).toMatchObject({ code: 'SOURCE_FORBIDDEN', message: expect.stringContaining(`: ${category} address`) });
    }
  });

  it('allows only http and https', async () => {
    const p = v4.port;
    for (const url of ['file:///etc/passwd', `ftp://127.0.0.1:${p}/r.git`, `gopher://127.0.0.1:${p}/_GET%20/`, `ssh://git@127.0.0.1:${p}/r.git`, `git://127.0.0.1:${p}/r.git`, `dict://127.0.0.1:${p}/`, 'javascript:alert(1)']) {
      const res = await s.api.post('/v1/repo').set(auth(s.admin)).send({ source: { type: 'git', url } });
      expect(res.status, url).toBe(400);
      expect(res.body.error, url).toMatchObject({ code: 'SOURCE_FORBIDDEN', message: expect.stringContaining('only http and https URLs are allowed') });
    }
    expect(v4.connections + v6.connections).toBe(0);
  });

  it('refuses the same on update with a repository write token, changing nothing', async () => {
    const id = await s.createRepo({ source: { type: 'files', files: [{ filename: 'a.txt', content: 'a\n' }] } });
    const { token } = await s.mint({ name: 'agent', repo_ids: [id], permission: 'write' });
    const head = (await s.api.post(`/v1/repo/${id}/update`).set(auth(token)).send({})).body.repo_head as string;
    for (const url of [...loopbackSpellings(), 'http://169.254.169.254/r.git', 'file:///etc/passwd']) {
      const res = await s.api.post(`/v1/repo/${id}/update`).set(auth(token)).send({ source: { type: 'git', url } });
      expect(res.status, url).toBe(400);
      expect(res.body.error.code, url).toBe('SOURCE_FORBIDDEN');
    }
    expect(v4.connections + v6.connections).toBe(0);
    expect((await s.api.post(`/v1/repo/${id}/update`).set(auth(token)).send({})).body.repo_head).toBe(head);
    await s.fsck(id);
  });
});

/** Forwards every request to `target`, adding its own credentials: a source that needs none from gitgate. */
function proxyTo(target: string, authorization: string): ListenerHandler {
  return (req, res) => {
    const headers = { ...req.headers, host: new URL(target).host, authorization };
    const up = http.request(new URL(req.url!, target), { method: req.method, headers }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  };
}

describe('with GITGATE_IMPORT_ALLOW_NETWORKS=127.0.0.1/32', () => {
  let s: TestServer;
  let srcId: string;
  let srcHead: string;
  let readToken: string;
  beforeAll(async () => {
    s = await startTestServer('memory', { GITGATE_IMPORT_ALLOW_NETWORKS: '127.0.0.1/32' });
    srcId = await s.createRepo({ source: { type: 'files', files: [{ filename: 'README.md', content: 'source\n' }] } });
    srcHead = (await s.api.post(`/v1/repo/${srcId}/update`).set(auth(s.admin)).send({})).body.repo_head as string;
    readToken = (await s.mint({ name: 'proxy', repo_ids: [srcId], permission: 'read' })).token;
  });
  afterAll(async () => {
    await s?.close();
  });

  const create = (url: string) => s.api.post('/v1/repo').set(auth(s.admin)).send({ source: { type: 'git', url } });

  it('imports from an allowed network', async () => {
    const res = await create(s.gitUrl(srcId, readToken));
    expect(res.status).toBe(201);
    expect(res.body.repo_head).toBe(srcHead);
    await s.fsck(res.body.repo_id);
  });

  it('checks every redirect hop: a hop to a forbidden address or scheme is refused before connecting', async () => {
    const elsewhere = await recordingListener(undefined, '127.0.0.2'); // loopback, but not allowed
    const v6 = await recordingListener(undefined, '::1');
    const targets = [
      `${elsewhere.url}/r.git${INFO_REFS}`,
      `http://[::1]:${v6.port}/r.git${INFO_REFS}`,
      `http://[::ffff:127.0.0.2]:${elsewhere.port}/r.git${INFO_REFS}`,
      `file:///etc/passwd/info/refs`,
    ];
    const origin = await recordingListener((req, res) => {
      res.writeHead(302, { Location: targets[Number(req.url!.split('/')[1])]! }).end();
    });
    try {
      for (let i = 0; i < targets.length; i++) {
        const res = await create(`http://alice:pat@127.0.0.1:${origin.port}/${i}/r.git`);
        expect(res.status, targets[i]).toBe(400);
        expect(res.body.error.code, targets[i]).toBe('SOURCE_FORBIDDEN');
      }
      expect(origin.requests).toHaveLength(targets.length); // the allowed first hop was made
      expect(elsewhere.connections).toBe(0);
      expect(v6.connections).toBe(0);
    } finally {
      await Promise.all([origin.close(), elsewhere.close(), v6.close()]);
    }
  });

  it('sends the URL credentials only to their origin; a redirect to another origin goes without them', async () => {
    // `other` serves the source itself (it adds its own credentials towards gitgate)
    const other = await recordingListener(proxyTo(s.url, basic('token', readToken)));
    const origin = await recordingListener((req, res) => {
      if (req.url!.startsWith('/moved/')) {
        res.writeHead(302, { Location: `${other.url}/v1/repo/${srcId}.git${INFO_REFS}` }).end();
      } else if (req.url!.startsWith('/same/')) {
        res.writeHead(301, { Location: `/v1/repo/${srcId}.git${INFO_REFS}` }).end();
      } else {
        proxyTo(s.url, basic('token', readToken))(req, res);
      }
    });
    try {
      const moved = await create(`http://alice:pat@127.0.0.1:${origin.port}/moved/r.git`);
      expect(moved.status, JSON.stringify(moved.body)).toBe(201);
      expect(moved.body.repo_head).toBe(srcHead);
      await s.fsck(moved.body.repo_id);
      expect(origin.requests.map((r) => r.headers.authorization)).toEqual([basic('alice', 'pat')]);
      expect(other.requests.map((r) => `${r.method} ${r.url.replace(/\?.*/, '')}`)).toEqual([
        `GET /v1/repo/${srcId}.git/info/refs`,
        `POST /v1/repo/${srcId}.git/git-upload-pack`,
      ]);
      for (const r of other.requests) expect(r.headers.authorization).toBeUndefined();

      // the same origin keeps them, for the redirected GET and the POST
      origin.requests.length = 0;
      const same = await create(`http://alice:pat@127.0.0.1:${origin.port}/same/r.git`);
      expect(same.status).toBe(201);
      expect(origin.requests.map((r) => r.headers.authorization)).toEqual([basic('alice', 'pat'), basic('alice', 'pat'), basic('alice', 'pat')]);
      expect(other.requests).toHaveLength(2);
    } finally {
      await Promise.all([origin.close(), other.close()]);
    }
  });

  it('follows at most 5 redirects', async () => {
    const loop = await recordingListener((req, res) => {
      res.writeHead(302, { Location: req.url! }).end();
    });
    try {
      const res = await create(`${loop.url}/r.git`);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('SOURCE_NOT_GIT');
      expect(loop.requests).toHaveLength(6);
    } finally {
      await loop.close();
    }
  });

  it('says no more than "unreachable" or "not a Git repository"', async () => {
    const closed = await recordingListener((req) => req.socket.destroy());
    const pages = await recordingListener((req, res) => {
      const kind = req.url!.split('/')[1];
      if (kind === '404') res.writeHead(404, { 'Content-Type': 'text/plain' }).end('secret internal page');
      else if (kind === '418') res.writeHead(418).end();
      else if (kind === 'html') res.writeHead(200, { 'Content-Type': 'text/html' }).end('<h1>admin console</h1>');
      else res.writeHead(302, { Location: '/login' }).end();
    });
    try {
      const unreachable = [`http://127.0.0.1:1/r.git`, `http://nonexistent.invalid/r.git`, `${closed.url}/r.git`];
      for (const url of unreachable) {
        const res = await create(url);
        expect(res.status, url).toBe(502);
        expect(res.body.error, url).toEqual({ code: 'SOURCE_UNREACHABLE', message: `The source repository ${url} is unreachable` });
      }
      for (const kind of ['404', '418', 'html', 'redirect']) {
        const url = `${pages.url}/${kind}/r.git`;
        const res = await create(url);
        expect(res.status, url).toBe(400);
        expect(res.body.error, url).toEqual({ code: 'SOURCE_NOT_GIT', message: `The source ${url} is not a Git repository served over smart HTTP` });
      }
    } finally {
      await Promise.all([closed.close(), pages.close()]);
    }
  });
});
