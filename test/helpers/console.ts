// Web console over plain HTTP (supertest): sign in as a browser would (the sign-in page's
// double-submit cookie and form field), then carry the session cookie by hand.
import type { TestServer } from './server.js';

export interface ConsoleSession {
  /** The Cookie header to send. */
  cookie: string;
  /** The session's CSRF token, as the pages' forms carry it. */
  csrf: string;
  /** The Set-Cookie header that opened the session. */
  setCookie: string;
}

export function cookieValue(setCookie: string[] | string | undefined, name: string): string | undefined {
  const all = Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : [];
  const line = all.find((c) => c.startsWith(`${name}=`));
  return line?.slice(name.length + 1).split(';')[0];
}

export function setCookieLine(setCookie: string[] | string | undefined, name: string): string | undefined {
  const all = Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : [];
  return all.find((c) => c.startsWith(`${name}=`));
}

export function csrfOf(page: string): string {
  const m = /name="csrf" value="([^"]+)"/.exec(page);
  if (!m) throw new Error('no csrf field on the page');
  return m[1]!;
}

export async function signIn(s: TestServer, secret: string): Promise<ConsoleSession> {
  const form = await s.api.get('/ui/sign-in');
  const pre = cookieValue(form.headers['set-cookie'], 'gitgate_signin')!;
  const res = await s.api
    .post('/ui/sign-in')
    .set('Cookie', `gitgate_signin=${pre}`)
    .type('form')
    .send({ csrf: csrfOf(form.text), token: secret });
  if (res.status !== 303 || res.headers.location !== '/ui/repos') throw new Error(`sign-in failed: ${res.status} ${res.text.slice(0, 300)}`);
  const setCookie = setCookieLine(res.headers['set-cookie'], 'gitgate_session')!;
  const cookie = `gitgate_session=${cookieValue(res.headers['set-cookie'], 'gitgate_session')}`;
  const repos = await s.api.get('/ui/repos').set('Cookie', cookie);
  return { cookie, csrf: csrfOf(repos.text), setCookie };
}
