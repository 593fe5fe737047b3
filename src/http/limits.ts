// Request-size limits for Git RPC bodies, and in-flight tracking of clones and pushes.
import type { Request, RequestHandler } from 'express';
import { GitgateError } from '../errors.js';
import type { Activity, ActivityKind } from './activity.js';

/** The (decoded) body, failing with 413 BODY_TOO_LARGE past `limit` bytes. A declared
 *  Content-Length over the limit is refused before anything is read. */
export function capBody(body: AsyncIterable<Buffer>, req: Request, limit: number): AsyncIterable<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw new GitgateError('BODY_TOO_LARGE', { limit });
  return (async function* () {
    let seen = 0;
    for await (const chunk of body) {
      seen += chunk.length;
      if (seen > limit) throw new GitgateError('BODY_TOO_LARGE', { limit });
      yield chunk;
    }
  })();
}

/** Counts the handler as a running clone or push (metrics gauges, graceful shutdown) until it
 *  has returned and its response has closed. */
export function tracked(activity: Activity, kind: ActivityKind, handler: RequestHandler): RequestHandler {
  return async (req, res, next) => {
    const done = activity.begin(kind);
    let closed = res.writableFinished || res.destroyed;
    let returned = false;
    res.once('close', () => {
      closed = true;
      if (returned) done();
    });
    try {
      await handler(req, res, next);
    } catch (err) {
      next(err);
    } finally {
      returned = true;
      if (closed) done();
    }
  };
}
