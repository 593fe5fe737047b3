// One structured log line per request; token secrets are never logged (URL paths redacted).
import crypto from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Logger } from 'pino';
import type { Activity } from './activity.js';
import { redactSecrets } from '../redact.js';
import type { Metrics } from '../metrics/metrics.js';
import { routeOf } from './metrics.js';

declare module 'express-serve-static-core' {
  interface Request {
    id?: string;
    log?: Logger;
  }
}

/** What an incoming X-Request-Id may look like: a UUID, a hex trace id, an nginx $request_id. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** req.id and the X-Request-Id response header: the id a trusted proxy sent (so its logs and
 *  ours correlate), else a fresh UUID. From anyone else the header is ignored: a client could
 *  otherwise forge ids that collide with others' in our logs. */
export function requestId(): RequestHandler {
  return (req, res, next) => {
    const incoming = req.get('x-request-id');
    const trusted = incoming !== undefined && REQUEST_ID.test(incoming) && fromTrustedProxy(req);
    req.id = trusted ? incoming : crypto.randomUUID();
    res.setHeader('X-Request-Id', req.id);
    next();
  };
}

function fromTrustedProxy(req: Parameters<RequestHandler>[0]): boolean {
  const trust = req.app.get('trust proxy fn') as ((addr: string, hop: number) => boolean) | undefined;
  const peer = req.socket.remoteAddress;
  return !!trust && !!peer && trust(peer, 0);
}

/** One log line per request when its response closes (finished or cut off), plus metrics:
 *  request id, method, route template, redacted URL, status, client address, user agent, token id (never
 *  the secret), repository id, bytes in and out (headers included), duration. */
const readMark = new WeakMap<object, number>();

export function requestLogger(log: Logger, metrics?: Metrics, activity?: Activity): RequestHandler {
  return (req, res, next) => {
    const start = process.hrtime.bigint();
    const socket = req.socket;
    const ip = req.ip; // read now: the socket may be detached by the time the response closes
    const ua = req.get('user-agent');
    const userAgent = ua === undefined ? undefined : redactSecrets(ua.slice(0, 256));
    // bytes in: everything read on the connection since the previous request on it ended
    // (headers included: the body may already sit in the socket buffer when we get here)
    const read0 = readMark.get(socket) ?? 0;
    const written0 = socket.bytesWritten;
    const done = activity?.begin('request');
    req.log = log.child({ req_id: req.id });
    res.once('close', () => {
      done?.();
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const route = routeOf(req);
      const bytesIn = Math.max(0, socket.bytesRead - read0);
      readMark.set(socket, socket.bytesRead);
      const bytesOut = Math.max(0, socket.bytesWritten - written0);
      const aborted = !res.writableFinished;
      const status = aborted && !res.headersSent ? 499 : res.statusCode;
      if (metrics) {
        metrics.requests.inc({ method: req.method, route, status: String(status) });
        metrics.bytesIn.inc({ route }, bytesIn);
        metrics.bytesOut.inc({ route }, bytesOut);
        metrics.duration.observe({ method: req.method, route }, seconds);
      }
      req.log!.info(
        {
          method: req.method,
          route,
          url: redactSecrets(req.originalUrl),
          status,
          ip,
          user_agent: userAgent,
          token_id: res.locals.token?.id,
          repo_id: res.locals.repo?.id ?? res.locals.actor?.repoId,
          bytes_in: bytesIn,
          bytes_out: bytesOut,
          ms: Math.round(seconds * 1e6) / 1e3,
          ...(aborted ? { aborted: true } : {}),
        },
        'request',
      );
    });
    next();
  };
}
