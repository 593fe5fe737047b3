// The web console at /ui: server-rendered pages for the people supervising agents. Sign-in
// with a token opens a derived session (session.ts); every page then acts as that token,
// through the same policy as REST (auth/policy.ts), and shows nothing the token may not read.
import { Router, type ErrorRequestHandler, type NextFunction, type Request, type Response } from 'express';
import { runAsActor } from '../../audit/actor.js';
import { GitgateError } from '../../errors.js';
import type { Services } from '../../service/services.js';
import type { HttpRuntime } from '../runtime.js';
import { isLive } from '../../webhooks/dispatcher.js';
import { formBodyReader } from '../body.js';
import { toGitgateError } from '../errors.js';
import { admitRequest, throttleCheck } from '../guard.js';
import { eventPages } from './event-pages.js';
import { html } from './html.js';
import { CONSOLE_CSS, EVENTS_JS, securityHeaders, sendPage } from './layout.js';
import { repoPages } from './repo-pages.js';
import {
  assertCsrf,
  assertSameOrigin,
  clearCookie,
  randomId,
  readCookie,
  SESSION_COOKIE,
  SESSION_MAX_MS,
  SessionStore,
  setCookie,
  SIGNIN_COOKIE,
  signedIn,
} from './session.js';
import { tokenPages, type PostForm } from './token-pages.js';

const SIGNIN_COOKIE_MS = 30 * 60_000;

export function uiRoutes(ctx: Services, rt: HttpRuntime): Router {
  const router = Router();
  const sessions = new SessionStore();
  const readForm = formBodyReader();

  router.use('/ui', securityHeaders);

  router.get('/ui/static/console.css', (_req, res) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.type('text/css; charset=utf-8').send(CONSOLE_CSS);
  });
  router.get('/ui/static/events.js', (_req, res) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.type('text/javascript; charset=utf-8').send(EVENTS_JS);
  });

  /** The session behind the cookie, re-checked against its token on every request. */
  const requireSession = async (req: Request, res: Response, next: NextFunction) => {
    const session = sessions.get(readCookie(req, SESSION_COOKIE));
    if (!session) throw new GitgateError('UNAUTHENTICATED');
    const record = await ctx.tokens.get(session.tokenId);
    // revoked, expired, or its secret rotated since sign-in: the session dies with it
    if (!isLive(record, Date.now()) || (await ctx.tokens.secretStamp(session.tokenId)) !== session.stamp) {
      sessions.delete(session.id);
      throw new GitgateError('UNAUTHENTICATED');
    }
    await admitRequest(ctx, rt, record.id, res); // the token's concurrency limit holds here too
    res.locals.token = record;
    res.locals.uiSession = session;
    const ip = req.ip ?? req.socket.remoteAddress ?? 'unknown';
    const actor = { tokenId: record.id, ip, audit: ctx.audit };
    res.locals.actor = actor;
    runAsActor(actor, next);
  };

  /** A state-changing form: session, then origin, then (only then) the body and its CSRF token. */
  const postForm: PostForm = (handler) => [
    requireSession,
    async (req: Request, res: Response) => {
      assertSameOrigin(req);
      const form = await readForm(req, res);
      assertCsrf(form, signedIn(res).session.csrf);
      await handler(req, res, form);
    },
  ];

  router.get('/ui', (req, res) => {
    res.redirect(303, sessions.get(readCookie(req, SESSION_COOKIE)) ? '/ui/repos' : '/ui/sign-in');
  });

  const signInPage = (req: Request, res: Response, status: number, problem: string | null) => {
    const csrf = randomId();
    setCookie(req, res, SIGNIN_COOKIE, csrf, SIGNIN_COOKIE_MS);
    const ended = req.query.ended === '1';
    sendPage(res, status, {
      title: 'Sign in',
      body: html`<h1>Sign in</h1>
${problem ? html`<p class="error" role="alert">${problem}</p>` : ''}
${ended && !problem ? html`<p class="notice" role="status">Your session ended: you signed out, it timed out, or its token was revoked, rotated or expired.</p>` : ''}
<form method="post" action="/ui/sign-in" class="stack">
<input type="hidden" name="csrf" value="${csrf}">
<label for="token">Token</label>
<input id="token" name="token" type="password" autocomplete="off" required spellcheck="false">
<p class="muted">A gitgate token (<code>ggw_…</code> or <code>ggr_…</code>). It is checked once; the console keeps a short-lived session, never the token.
You see what this token may read, and nothing else.</p>
<button type="submit">Sign in</button>
</form>`,
    });
  };

  router.get('/ui/sign-in', (req, res) => signInPage(req, res, 200, null));

  // No session yet: origin and the double-submit cookie come before the (small) body is read;
  // the failed-authentication throttle counts wrong tokens as it does on every other route.
  router.post('/ui/sign-in', async (req, res) => {
    assertSameOrigin(req);
    const expected = readCookie(req, SIGNIN_COOKIE);
    if (!expected) throw new GitgateError('CSRF', { reason: 'the sign-in form has expired (or cookies are off)' });
    const form = await readForm(req, res);
    assertCsrf(form, expected);
    const ip = req.ip ?? req.socket.remoteAddress ?? 'unknown';
    const secret = typeof form.token === 'string' ? form.token.trim() : '';
    await throttleCheck(ctx, rt, ip, secret || null, res);
    const stampBefore = secret ? await ctx.tokens.secretStamp(await tokenIdOf(ctx, secret)) : null;
    const record = secret ? await ctx.tokens.verify(secret, ip === 'unknown' ? undefined : ip) : null;
    const stamp = record ? await ctx.tokens.secretStamp(record.id) : null;
    // a rotation between the two reads would bind the session to a secret it was not opened with
    if (!record || stamp === null || stamp !== stampBefore) {
      rt.metrics.authFailures.inc();
      if (secret) await rt.throttle.fail(ip);
      signInPage(req, res, 401, 'That token is not valid: unknown, mistyped, expired or revoked.');
      return;
    }
    const previous = readCookie(req, SESSION_COOKIE);
    if (previous) sessions.delete(previous); // signing in again replaces the old session, never extends it
    const session = sessions.create(record.id, stamp, record.expires_at);
    clearCookie(req, res, SIGNIN_COOKIE);
    setCookie(req, res, SESSION_COOKIE, session.id, Math.min(SESSION_MAX_MS, session.expiresAt - Date.now()));
    res.redirect(303, '/ui/repos');
  });

  router.post('/ui/sign-out', ...postForm((req, res) => {
    sessions.delete(signedIn(res).session.id);
    clearCookie(req, res, SESSION_COOKIE);
    res.redirect(303, '/ui/sign-in');
  }));

  repoPages(ctx, router, requireSession);
  eventPages(ctx, router, requireSession, (id) => sessions.has(id));
  tokenPages(ctx, router, requireSession, postForm);

  router.use('/ui', (req, _res, next) => {
    next(new GitgateError('ROUTE_NOT_FOUND', { method: req.method, path: req.path.slice(0, 200) }));
  });
  router.use('/ui', uiErrors);
  return router;
}

/** The id a secret names (its public part), or '' — only to stamp the secret before verifying it. */
async function tokenIdOf(ctx: Services, secret: string): Promise<string> {
  return (await ctx.tokens.resolve(secret))?.id ?? '';
}

/** Errors as pages; an unauthenticated request goes to the sign-in page. */
const uiErrors: ErrorRequestHandler = (err, req, res, _next) => {
  const ge = toGitgateError(err);
  if (ge.status >= 500) req.log?.error({ err }, 'request failed');
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (ge.code === 'UNAUTHENTICATED') {
    const had = readCookie(req, SESSION_COOKIE) !== undefined;
    if (had) clearCookie(req, res, SESSION_COOKIE);
    res.redirect(303, had ? '/ui/sign-in?ended=1' : '/ui/sign-in');
    return;
  }
  const session = res.locals.uiSession;
  const tok = res.locals.token;
  sendPage(res, ge.status, {
    title: `Error ${ge.status}`,
    signedIn: session && tok ? { token: tok, csrf: session.csrf } : undefined,
    body: html`<h1>${ge.status === 404 ? 'Not found' : `Error ${ge.status}`}</h1><p class="error" role="alert">${ge.message}</p><p><a href="/ui/repos">Back to repositories</a></p>`,
  });
};
