// Issue 18 point 3, the web console over plain HTTP: the attacker's side. Cookie flags (a derived
// session, never the token), CSRF and Origin checks on every form, authentication before any
// body, escaping of hostile names and messages, security headers, a repository token confined
// to its repositories, and sessions that die with their token (revoked, rotated).
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commitFiles, gitOk, tmpDir } from '../helpers/git.js';
import { cookieValue, csrfOf, setCookieLine, signIn } from '../helpers/console.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { makeCert } from '../helpers/tls.js';

const XSS_FILE = '<img src=x onerror=alert(1)>.txt';
const XSS_MESSAGE = 'fix </td><script>alert("msg")</script>';
const XSS_BRANCH = 'evil"><svg/onload=alert(2)>';
const XSS_TOKEN = '<script>alert("token")</script>';

/** No hostile string reaches a page unescaped. */
function expectNoMarkup(page: string): void {
  expect(page).not.toMatch(/<script>alert|<img src=x|<svg\/onload/i);
}

describe('web console over HTTP', () => {
  let s: TestServer;
  let repo: string;
  let other: string;
  beforeAll(async () => {
    s = await startTestServer('fs');
    repo = await s.createRepo({ name: 'console-a' });
    other = await s.createRepo({ name: 'console-b', source: { type: 'files', files: [{ filename: 'secret-plan.md', content: 'b\n' }] } });
    const w = tmpDir('gitgate-console-w-');
    await gitOk(['init', '-q', '-b', 'main', w]);
    await gitOk(['config', 'user.name', 'Mallory "M" & co'], { cwd: w }); // git itself drops < and >
    await gitOk(['config', 'user.email', 'm@example.com'], { cwd: w });
    await commitFiles(w, { 'README.md': 'hello\n', [XSS_FILE]: 'x\n' }, 'first');
    await commitFiles(w, { 'README.md': 'hello <b>world</b>\n' }, XSS_MESSAGE);
    await gitOk(['push', '-q', s.gitUrl(repo, s.admin), 'main', `main:refs/heads/${XSS_BRANCH}`], { cwd: w });
    await s.fsck(repo);
  });
  afterAll(async () => {
    await s.close();
  });

  it('sign-in sets an HttpOnly, SameSite=Strict session cookie that holds neither the token nor its id', async () => {
    const minted = await s.mint({ repo_ids: [repo], permission: 'read', name: 'cookie check' });
    const session = await signIn(s, minted.token);
    expect(session.setCookie).toMatch(/; HttpOnly/);
    expect(session.setCookie).toMatch(/; SameSite=Strict/);
    expect(session.setCookie).toMatch(/; Path=\/ui/);
    expect(session.setCookie).not.toMatch(/Secure/); // plain HTTP
    const value = cookieValue([session.setCookie], 'gitgate_session')!;
    expect(value.length).toBeGreaterThanOrEqual(40);
    expect(session.setCookie).not.toContain(minted.token);
    expect(session.setCookie).not.toContain(minted.id);
    expect(session.setCookie).not.toContain(minted.token.slice(4, 20));
    // a wrong token: 401 page, no session
    const form = await s.api.get('/ui/sign-in');
    const pre = cookieValue(form.headers['set-cookie'], 'gitgate_signin')!;
    const bad = await s.api.post('/ui/sign-in').set('Cookie', `gitgate_signin=${pre}`).type('form').send({ csrf: csrfOf(form.text), token: `${minted.token.slice(0, -2)}xx` });
    expect(bad.status).toBe(401);
    expect(bad.text).toContain('That token is not valid');
    expect(setCookieLine(bad.headers['set-cookie'], 'gitgate_session')).toBeUndefined();
  });

  it('signing in again replaces the session instead of adding one', async () => {
    const first = await signIn(s, s.admin);
    const form = await s.api.get('/ui/sign-in').set('Cookie', first.cookie);
    const pre = cookieValue(form.headers['set-cookie'], 'gitgate_signin')!;
    const again = await s.api.post('/ui/sign-in').set('Cookie', `${first.cookie}; gitgate_signin=${pre}`).type('form').send({ csrf: csrfOf(form.text), token: s.admin });
    expect(again.status).toBe(303);
    const second = `gitgate_session=${cookieValue(again.headers['set-cookie'], 'gitgate_session')}`;
    expect(second).not.toBe(first.cookie);
    expect((await s.api.get('/ui/repos').set('Cookie', first.cookie)).status).toBe(303);
    expect((await s.api.get('/ui/repos').set('Cookie', second)).status).toBe(200);
  });

  it('over HTTPS the session cookie is Secure', async () => {
    const dir = tmpDir('gitgate-console-tls-');
    const cert = makeCert(dir, 'console');
    const t = await startTestServer('memory', { GITGATE_TLS_CERT: cert.cert, GITGATE_TLS_KEY: cert.key });
    try {
      const get = (p: string, headers: Record<string, string> = {}, body?: string) =>
        new Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }>((resolve, reject) => {
          const req = https.request(`${t.url}${p}`, { method: body ? 'POST' : 'GET', ca: fs.readFileSync(cert.cert), agent: false, headers }, (res) => {
            let text = '';
            res.on('data', (c) => (text += c));
            res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }));
          });
          req.on('error', reject);
          req.end(body);
        });
      const form = await get('/ui/sign-in');
      expect(setCookieLine(form.headers['set-cookie'], 'gitgate_signin')).toMatch(/; Secure/);
      const pre = cookieValue(form.headers['set-cookie'], 'gitgate_signin')!;
      const body = new URLSearchParams({ csrf: csrfOf(form.text), token: t.admin }).toString();
      const res = await get('/ui/sign-in', { Cookie: `gitgate_signin=${pre}`, 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': String(Buffer.byteLength(body)) }, body);
      expect(res.status).toBe(303);
      const line = setCookieLine(res.headers['set-cookie'], 'gitgate_session')!;
      expect(line).toMatch(/; Secure/);
      expect(line).toMatch(/; HttpOnly/);
      expect(line).toMatch(/; SameSite=Strict/);
    } finally {
      await t.close();
    }
  });

  it('pages carry CSP, frame, referrer and no-store headers', async () => {
    const session = await signIn(s, s.admin);
    for (const p of ['/ui/sign-in', '/ui/repos', `/ui/repos/${repo}`, '/ui/events', '/ui/tokens', '/ui/nope']) {
      const res = await s.api.get(p).set('Cookie', session.cookie);
      expect(res.headers['content-security-policy'], p).toMatch(/default-src 'none'/);
      expect(res.headers['content-security-policy'], p).toMatch(/frame-ancestors 'none'/);
      expect(res.headers['content-security-policy'], p).not.toMatch(/unsafe-inline/);
      expect(res.headers['x-frame-options'], p).toBe('DENY');
      expect(res.headers['referrer-policy'], p).toBe('same-origin');
      expect(res.headers['cache-control'], p).toBe('no-store');
      expect(res.headers['x-content-type-options'], p).toBe('nosniff');
    }
    // no inline script anywhere (the CSP would block it anyway)
    const events = await s.api.get('/ui/events').set('Cookie', session.cookie);
    expect(events.text).not.toMatch(/<script>/);
    expect(events.text).toContain('<script src="/ui/static/events.js" defer></script>');
  });

  it('refuses a form without the CSRF token, with a wrong one, or from another origin', async () => {
    const victim = await s.mint({ repo_ids: [repo], permission: 'read', name: 'victim' });
    const session = await signIn(s, s.admin);
    const url = `/ui/tokens/${victim.id}/revoke`;
    const attempts = [
      s.api.post(url).set('Cookie', session.cookie).type('form').send({}),
      s.api.post(url).set('Cookie', session.cookie).type('form').send({ csrf: 'A'.repeat(43) }),
      s.api.post(url).set('Cookie', session.cookie).type('form').send({ csrf: session.csrf.slice(1) }),
      s.api.post(url).set('Cookie', session.cookie).set('Content-Type', 'application/json').send(JSON.stringify({ csrf: session.csrf })),
      s.api.post(url).set('Cookie', session.cookie).set('Origin', 'http://evil.example').type('form').send({ csrf: session.csrf }),
      s.api.post(url).set('Cookie', session.cookie).set('Origin', 'null').type('form').send({ csrf: session.csrf }),
      s.api.post(url).set('Cookie', session.cookie).set('Sec-Fetch-Site', 'cross-site').type('form').send({ csrf: session.csrf }),
    ];
    for (const res of await Promise.all(attempts)) {
      expect(res.status).toBe(403);
      expect(res.text).toContain('Form refused');
    }
    expect((await s.ctx.tokens.get(victim.id))!.revoked_at).toBeNull();
    // sign-out needs it too
    const out = await s.api.post('/ui/sign-out').set('Cookie', session.cookie).type('form').send({});
    expect(out.status).toBe(403);
    expect((await s.api.get('/ui/repos').set('Cookie', session.cookie)).status).toBe(200);
    // sign-in without the sign-in page's cookie (a login CSRF from another site)
    const form = await s.api.get('/ui/sign-in');
    const noCookie = await s.api.post('/ui/sign-in').type('form').send({ csrf: csrfOf(form.text), token: s.admin });
    expect(noCookie.status).toBe(403);
    const crossSite = await s.api
      .post('/ui/sign-in')
      .set('Cookie', `gitgate_signin=${cookieValue(form.headers['set-cookie'], 'gitgate_signin')}`)
      .set('Origin', 'http://evil.example')
      .type('form')
      .send({ csrf: csrfOf(form.text), token: s.admin });
    expect(crossSite.status).toBe(403);
    // the genuine form works, from this origin
    const ok = await s.api.post(url).set('Cookie', session.cookie).set('Origin', s.url).type('form').send({ csrf: session.csrf });
    expect(ok.status).toBe(303);
    expect((await s.ctx.tokens.get(victim.id))!.revoked_at).not.toBeNull();
  });

  it('authenticates before reading a body: no session, no buffering', async () => {
    const victim = await s.mint({ repo_ids: [repo], permission: 'read', name: 'victim 2' });
    for (const p of [`/ui/tokens/${victim.id}/revoke`, '/ui/sign-out']) {
      const res = await unfinishedUpload(s, p, {}, 30 * 1024 * 1024, 1024 * 1024);
      expect(res.status, p).toBe(303);
      expect(res.location).toBe('/ui/sign-in');
      expect(res.connection).toBe('close');
    }
    // a sign-in post without the sign-in cookie is refused before its body is read
    const signin = await unfinishedUpload(s, '/ui/sign-in', {}, 30 * 1024 * 1024, 1024 * 1024);
    expect(signin.status).toBe(403);
    expect(signin.connection).toBe('close');
    // and a sign-in body is small: 16 KiB at most
    const form = await s.api.get('/ui/sign-in');
    const big = await s.api
      .post('/ui/sign-in')
      .set('Cookie', `gitgate_signin=${cookieValue(form.headers['set-cookie'], 'gitgate_signin')}`)
      .type('form')
      .send({ csrf: csrfOf(form.text), token: 'x'.repeat(100_000) });
    expect(big.status).toBe(413);
    expect((await s.ctx.tokens.get(victim.id))!.revoked_at).toBeNull();
  });

  it('escapes hostile file names, commit messages, branch and token names', async () => {
    await s.mint({ repo_ids: [repo], permission: 'read', name: XSS_TOKEN });
    const session = await signIn(s, s.admin);
    const get = async (p: string) => {
      const res = await s.api.get(p).set('Cookie', session.cookie);
      expect(res.status, p).toBe(200);
      expectNoMarkup(res.text);
      return res.text;
    };
    const overview = await get(`/ui/repos/${repo}`);
    expect(overview).toContain('evil&quot;&gt;&lt;svg/onload=alert(2)&gt;');
    const tree = await get(`/ui/repos/${repo}/tree`);
    expect(tree).toContain('&lt;img src=x onerror=alert(1)&gt;.txt');
    await get(`/ui/repos/${repo}/blob?path=${encodeURIComponent(XSS_FILE)}`);
    const commits = await get(`/ui/repos/${repo}/commits`);
    expect(commits).toContain('fix &lt;/td&gt;&lt;script&gt;alert(&quot;msg&quot;)&lt;/script&gt;');
    expect(commits).toContain('Mallory &quot;M&quot; &amp; co');
    await get(`/ui/repos/${repo}/commits?ref=${encodeURIComponent(`refs/heads/${XSS_BRANCH}`)}`);
    const diff = await get(`/ui/repos/${repo}/compare?base=${await firstCommit(s, repo)}&head=main`);
    expect(diff).toContain('+hello &lt;b&gt;world&lt;/b&gt;');
    const tokens = await get('/ui/tokens');
    expect(tokens).toContain('&lt;script&gt;alert(&quot;token&quot;)&lt;/script&gt;');
    await get('/ui/events');
    // an error page echoes the hostile input escaped
    const missing = await s.api.get(`/ui/repos/${repo}/blob?path=${encodeURIComponent('<script>alert(3)</script>')}`).set('Cookie', session.cookie);
    expect(missing.status).toBe(404);
    expect(missing.text).toContain('&lt;script&gt;alert(3)&lt;/script&gt;');
    expect(missing.text).not.toContain('<script>alert(3)');
  });

  it('a file download is an attachment the browser never renders', async () => {
    const session = await signIn(s, s.admin);
    const res = await s.api.get(`/ui/repos/${repo}/raw?ref=main&path=${encodeURIComponent(XSS_FILE)}`).set('Cookie', session.cookie);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/octet-stream');
    expect(res.headers['content-disposition']).toMatch(/^attachment; filename="_img_src_x_onerror_alert_1__.txt"/);
    expect(res.headers['content-security-policy']).toMatch(/sandbox/);
  });

  it('a repository token sees only its repositories, events and tokens', async () => {
    const scoped = await s.mint({ repo_ids: [repo], permission: 'admin', name: 'scoped admin' });
    const session = await signIn(s, scoped.token);
    const list = await s.api.get('/ui/repos').set('Cookie', session.cookie);
    expect(list.text).toContain('console-a');
    expect(list.text).not.toContain('console-b');
    expect(list.text).not.toContain(other);
    for (const p of [`/ui/repos/${other}`, '/ui/repos/console-b', `/ui/repos/${other}/tree`, `/ui/repos/${other}/blob?path=secret-plan.md`, `/ui/repos/${other}/raw?path=secret-plan.md`, `/ui/repos/${other}/commits`, `/ui/repos/${other}/compare?base=main&head=main`]) {
      const res = await s.api.get(p).set('Cookie', session.cookie);
      expect(res.status, p).toBe(404);
      expect(res.text).toContain('Repository not found');
      expect(res.text).not.toContain('secret-plan');
    }
    // the same 404 as a repository that does not exist
    const none = await s.api.get('/ui/repos/00000000-0000-0000-0000-000000000000').set('Cookie', session.cookie);
    expect(none.status).toBe(404);
    const events = await s.api.get('/ui/events').set('Cookie', session.cookie);
    expect(events.text).toContain(repo);
    expect(events.text).not.toContain(other);
    const tokens = await s.api.get('/ui/tokens').set('Cookie', session.cookie);
    expect(tokens.text).toContain(scoped.id);
    expect(tokens.text).not.toContain('test admin'); // the workspace token is beyond it
    // nor can it revoke the workspace token through the console
    const adminId = (await s.ctx.tokens.verify(s.admin))!.id;
    const refused = await s.api.post(`/ui/tokens/${adminId}/revoke`).set('Cookie', session.cookie).type('form').send({ csrf: session.csrf });
    expect(refused.status).toBe(404);
    expect((await s.api.get(`/ui/tokens/${adminId}/revoke`).set('Cookie', session.cookie)).status).toBe(404);
    expect((await s.ctx.tokens.get(adminId))!.revoked_at).toBeNull();
  });

  it('a revoked or rotated token ends its session at once; sign-out ends it too', async () => {
    const a = await s.mint({ repo_ids: [repo], permission: 'admin', name: 'to revoke' });
    const sa = await signIn(s, a.token);
    expect((await s.api.get('/ui/repos').set('Cookie', sa.cookie)).status).toBe(200);
    await s.api.delete(`/v1/repo_token/${a.id}`).set('Authorization', `Bearer ${s.admin}`).expect(204);
    const gone = await s.api.get('/ui/repos').set('Cookie', sa.cookie);
    expect(gone.status).toBe(303);
    expect(gone.headers.location).toBe('/ui/sign-in?ended=1');

    const b = await s.mint({ repo_ids: [repo], permission: 'admin', name: 'to rotate' });
    const sb = await signIn(s, b.token);
    await s.api.post(`/v1/repo_token/${b.id}/rotate`).set('Authorization', `Bearer ${s.admin}`).send({}).expect(200);
    expect((await s.api.get(`/ui/repos/${repo}`).set('Cookie', sb.cookie)).status).toBe(303);

    const c = await signIn(s, s.admin);
    const out = await s.api.post('/ui/sign-out').set('Cookie', c.cookie).type('form').send({ csrf: c.csrf });
    expect(out.status).toBe(303);
    expect(setCookieLine(out.headers['set-cookie'], 'gitgate_session')).toMatch(/Expires=Thu, 01 Jan 1970/);
    expect((await s.api.get('/ui/tokens').set('Cookie', c.cookie)).status).toBe(303);
  });

  it('bad input gets a clear error page, never a crash; an empty repository has pages too', async () => {
    const session = await signIn(s, s.admin);
    const empty = await s.createRepo({ name: 'console-empty' });
    for (const p of [`/ui/repos/${empty}`, `/ui/repos/${empty}/tree`, `/ui/repos/${empty}/commits`]) {
      const res = await s.api.get(p).set('Cookie', session.cookie);
      expect(res.status, p).toBe(200);
    }
    const cases: [string, number, string][] = [
      [`/ui/repos/${repo}/commits?page=abc`, 400, 'page must be a non-negative integer'],
      [`/ui/repos/${repo}/commits?page=99999`, 400, 'page must be at most'],
      [`/ui/repos/${repo}/tree?path=../etc`, 400, 'Invalid file path'],
      [`/ui/repos/${repo}/tree?path=.git/config`, 400, 'Invalid file path'],
      [`/ui/repos/${repo}/tree?ref=no-such-branch`, 404, 'Commit not found: no-such-branch'],
      [`/ui/repos/${repo}/tree?ref=a&ref=b`, 400, 'ref must be one value'],
      [`/ui/repos/${repo}/blob?path=README.md&ref=${'x'.repeat(2000)}`, 400, 'ref must be one value of at most 1024'],
      [`/ui/repos/${repo}/compare?base=main&head=nope`, 404, 'Commit not found: nope'],
      [`/ui/repos/${repo}/compare?base=main&head=bad..name`, 400, 'Invalid ref name'],
      ['/ui/nothing-here', 404, 'No route for GET /nothing-here'],
    ];
    for (const [p, status, text] of cases) {
      const res = await s.api.get(p).set('Cookie', session.cookie);
      expect(res.status, p).toBe(status);
      expect(res.text, p).toContain(text);
      expect(res.headers['content-type'], p).toMatch(/^text\/html/);
    }
    // the compare form stays on the page beside the error
    const cmp = await s.api.get(`/ui/repos/${repo}/compare?base=main&head=nope`).set('Cookie', session.cookie);
    expect(cmp.text).toContain('<form method="get"');
    expect((await s.api.get('/healthz')).status).toBe(200);
  });

  it('the live event stream ends when its session does', async () => {
    const session = await signIn(s, s.admin);
    const { hostname, port } = new URL(s.url);
    let text = '';
    const ended = new Promise<void>((resolve, reject) => {
      const req = http.get({ host: hostname, port, path: '/ui/events/stream?after=0', headers: { Cookie: session.cookie, Accept: 'text/event-stream' } }, (res) => {
        expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve());
      });
      req.on('error', reject);
      setTimeout(() => reject(new Error('the stream outlived its session')), 10_000).unref();
    });
    while (!text.includes('event: repo.create')) await new Promise((r) => setTimeout(r, 50));
    await s.api.post('/ui/sign-out').set('Cookie', session.cookie).type('form').send({ csrf: session.csrf }).expect(303);
    await s.mint({ repo_ids: [repo], permission: 'read', name: 'wakes the stream' }); // an event wakes it; it sees the session gone
    await ended;
  });
});

async function firstCommit(s: TestServer, repo: string): Promise<string> {
  const dir = await s.bareRepo(repo);
  return (await gitOk(['--git-dir', dir, 'rev-list', '--max-parents=0', 'main'])).trim();
}

/** Headers and `sent` bytes of a body declared `declared` bytes long, never finished. */
function unfinishedUpload(
  s: TestServer,
  p: string,
  headers: Record<string, string>,
  declared: number,
  sent: number,
): Promise<{ status: number; connection: string | undefined; location: string | undefined }> {
  const { hostname, port } = new URL(s.url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: hostname, port, method: 'POST', path: p, agent: false, headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': String(declared), ...headers } },
      (res) => {
        res.resume();
        res.on('end', () => {
          req.destroy();
          resolve({ status: res.statusCode!, connection: res.headers.connection, location: res.headers.location });
        });
      },
    );
    req.on('error', reject);
    req.write(Buffer.alloc(sent, 'a'));
    setTimeout(() => {
      req.destroy();
      reject(new Error(`no answer to POST ${p} while its body was unfinished: the server waited for the body`));
    }, 10_000).unref();
  });
}


