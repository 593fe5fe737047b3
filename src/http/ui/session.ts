// Web-console sessions. The cookie holds a random session id, never the token: the session
// (kept in this process's memory) names the token id, a stamp of the secret it was opened with,
// its CSRF token and its deadlines. Every request re-reads the token, so a revoked, expired or
// rotated token ends its sessions at once; a restart signs everybody out.
import crypto from 'node:crypto';
import type { Request, Response } from 'express';
import type { TokenRecord } from '../../auth/token-record.js';
import { GitgateError } from '../../errors.js';

export const SESSION_COOKIE = 'gitgate_session';
/** The sign-in form's double-submit CSRF cookie (there is no session yet). */
export const SIGNIN_COOKIE = 'gitgate_signin';
export const COOKIE_PATH = '/ui';
/** A session ends this long after sign-in at the latest (or when its token expires)… */
export const SESSION_MAX_MS = 8 * 3600_000;
/** …or after this long without a request. */
export const SESSION_IDLE_MS = 3600_000;
const MAX_SESSIONS = 10_000;

declare module 'express-serve-static-core' {
  interface Locals {
    uiSession?: Session;
  }
}

export interface Session {
  id: string;
  tokenId: string;
  /** TokenService.secretStamp when the session was opened. */
  stamp: string;
  csrf: string;
  expiresAt: number;
  lastSeen: number;
}

/** The signed-in token and its session (set by the console's session check). */
export function signedIn(res: Response): { token: TokenRecord; session: Session } {
  const token = res.locals.token;
  const session = res.locals.uiSession;
  if (!token || !session) throw new GitgateError('UNAUTHENTICATED');
  return { token, session };
}

export const randomId = (): string => crypto.randomBytes(32).toString('base64url');

export class SessionStore {
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly now: () => number = Date.now) {}

  create(tokenId: string, stamp: string, tokenExpiresAt: string | null): Session {
    this.sweep();
    if (this.sessions.size >= MAX_SESSIONS) {
      // drop the oldest (Map keeps insertion order)
      const oldest = this.sessions.keys().next().value;
      if (oldest !== undefined) this.sessions.delete(oldest);
    }
    const now = this.now();
    const tokenEnd = tokenExpiresAt === null ? Infinity : Date.parse(tokenExpiresAt);
    const s: Session = { id: randomId(), tokenId, stamp, csrf: randomId(), expiresAt: Math.min(now + SESSION_MAX_MS, tokenEnd), lastSeen: now };
    this.sessions.set(s.id, s);
    return s;
  }

  /** The live session with this id (its idle clock restarted), or null. */
  get(id: string | undefined): Session | null {
    if (!id) return null;
    const s = this.sessions.get(id);
    if (!s) return null;
    const now = this.now();
    if (now >= s.expiresAt || now - s.lastSeen >= SESSION_IDLE_MS) {
      this.sessions.delete(id);
      return null;
    }
    s.lastSeen = now;
    return s;
  }

  /** Still open (for long-lived responses: the event stream)? */
  has(id: string): boolean {
    return this.sessions.has(id);
  }

  delete(id: string): void {
    this.sessions.delete(id);
  }

  private sweep(): void {
    const now = this.now();
    for (const [id, s] of this.sessions) if (now >= s.expiresAt || now - s.lastSeen >= SESSION_IDLE_MS) this.sessions.delete(id);
  }
}

/** One cookie's value from the Cookie header (no cookie parser is installed app-wide). */
export function readCookie(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** HttpOnly, SameSite=Strict, Path=/ui, and Secure whenever the request came over HTTPS. */
export function setCookie(req: Request, res: Response, name: string, value: string, maxAgeMs: number): void {
  res.cookie(name, value, { httpOnly: true, sameSite: 'strict', secure: req.secure, path: COOKIE_PATH, maxAge: maxAgeMs });
}

export function clearCookie(req: Request, res: Response, name: string): void {
  res.clearCookie(name, { httpOnly: true, sameSite: 'strict', secure: req.secure, path: COOKIE_PATH });
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

/** A form post must come from this console: its Origin (or, without one, Sec-Fetch-Site) says
 *  so when the client sends it. Checked before the body is read. */
export function assertSameOrigin(req: Request): void {
  const origin = req.headers.origin;
  if (origin !== undefined) {
    const own = `${req.protocol}://${req.headers.host ?? ''}`;
    if (origin !== own) throw new GitgateError('CSRF', { reason: 'the form was posted from another site' });
    return;
  }
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') throw new GitgateError('CSRF', { reason: 'the form was posted from another site' });
}

/** The form's csrf field must equal `expected` (the session's, or the sign-in cookie's). */
export function assertCsrf(body: Record<string, unknown>, expected: string | undefined): void {
  const given = body.csrf;
  if (typeof given !== 'string' || !expected || !sameSecret(given, expected)) {
    throw new GitgateError('CSRF', { reason: 'the form\'s CSRF token is missing or wrong' });
  }
}
