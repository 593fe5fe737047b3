// One structured log line per request; token secrets are never logged (URL paths redacted).
import type { RequestHandler } from 'express';
import type { Logger } from 'pino';

declare module 'express-serve-static-core' {
  interface Request {
    id?: string;
    log?: Logger;
  }
}

const SECRET_IN_PATH = /gg[wr]_[A-Za-z0-9_]+/g;

export function redactPath(url: string): string {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  return path.replace(SECRET_IN_PATH, '[redacted]') + (q < 0 ? '' : url.slice(q).replace(SECRET_IN_PATH, '[redacted]'));
}

export function requestLogger(log: Logger): RequestHandler {
  return (req, res, next) => {
    const start = process.hrtime.bigint();
    req.log = log.child({ req_id: req.id });
    res.on('finish', () => {
      req.log!.info(
        {
          method: req.method,
          url: redactPath(req.originalUrl),
          status: res.statusCode,
          token_id: res.locals.token?.id,
          repo_id: res.locals.repo?.id,
          bytes_in: Number(req.headers['content-length'] ?? 0) || undefined,
          ms: Number(process.hrtime.bigint() - start) / 1e6,
        },
        'request',
      );
    });
    next();
  };
}
