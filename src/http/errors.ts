// Turns thrown errors into responses: JSON {"error":{code,message}} for REST, text/plain
// for Git endpoints (git prints text/plain bodies as "remote: ..."). Never leaks internals.
import type { ErrorRequestHandler, Response } from 'express';
import { GitgateError } from '../errors.js';

export const REALM = 'Basic realm="gitgate"';

export function toGitgateError(err: unknown): GitgateError {
  if (err instanceof GitgateError) return err;
  const e = err as { type?: string; status?: number; limit?: number };
  if (e?.type === 'entity.parse.failed') return new GitgateError('BAD_JSON');
  if (e?.type === 'entity.too.large') return new GitgateError('BODY_TOO_LARGE', { limit: e.limit ?? 0 });
  if (e?.type === 'encoding.unsupported') return new GitgateError('BAD_ENCODING', { detail: 'unsupported content encoding' });
  if (e?.type === 'charset.unsupported') return new GitgateError('BAD_ENCODING', { detail: 'unsupported charset' });
  // Express's own 4xx errors (e.g. a path parameter with invalid %-encoding).
  if (err instanceof URIError || (e?.status === 400 && !(err instanceof GitgateError))) {
    return new GitgateError('VALIDATION', { detail: 'malformed URL or request (invalid %-encoding?)' });
  }
  if ((err as { code?: string })?.code === 'Z_DATA_ERROR' || (err as { code?: string })?.code === 'Z_BUF_ERROR') {
    return new GitgateError('BAD_ENCODING', { detail: 'invalid gzip data' });
  }
  return new GitgateError('INTERNAL');
}

export function sendError(res: Response, err: GitgateError, format: 'json' | 'text'): void {
  if (err.status === 401) res.setHeader('WWW-Authenticate', REALM);
  res.setHeader('Cache-Control', 'no-cache');
  res.status(err.status);
  if (format === 'text') res.type('text/plain; charset=utf-8').send(`${err.message}\n`);
  else res.json(err.toJSON());
}

export function isGitPath(path: string): boolean {
  return /\/(info\/refs|git-upload-pack|git-receive-pack|HEAD|objects\/.*)$/.test(path);
}

const HANG_UP_CODES = new Set(['ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE', 'ERR_STREAM_DESTROYED']);

/** The client went away mid-request: its business, not a server failure. */
function clientHungUp(err: unknown, res: Response): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && HANG_UP_CODES.has(code)) return true;
  if ((err as { message?: unknown } | null)?.message === 'aborted') return true; // node's IncomingMessage
  // req.destroyed is also true once a body has been read in full: ask the socket instead
  return res.req.socket.destroyed;
}

export const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  const ge = toGitgateError(err);
  if (ge.status >= 500 && clientHungUp(err, res)) {
    req.log?.info({ err_code: (err as { code?: unknown } | null)?.code }, 'client hung up');
    res.destroy();
    return;
  }
  if (ge.status >= 500) req.log?.error({ err }, 'request failed');
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendError(res, ge, isGitPath(req.path) ? 'text' : 'json');
};
