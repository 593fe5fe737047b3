// GET /healthz: 200 {"status":"ok","checks":{"db":"ok"}} when SQLite answers SELECT 1; 503 with
// status "error" when it does not, or "shutting_down" once a graceful shutdown has begun (so a
// load balancer stops routing here while running requests finish).
import type { RequestHandler } from 'express';
import type { Context } from '../service/context.js';

export function healthHandler(ctx: Context): RequestHandler {
  return (req, res) => {
    let db: 'ok' | 'error' = 'ok';
    try {
      const row = ctx.db.prepare('SELECT 1 AS ok').get() as { ok: number } | undefined;
      if (row?.ok !== 1) db = 'error';
    } catch (err) {
      db = 'error';
      req.log?.error({ err }, 'health check: database unavailable');
    }
    const status = db !== 'ok' ? 'error' : ctx.shuttingDown ? 'shutting_down' : 'ok';
    res.setHeader('Cache-Control', 'no-cache');
    res.status(status === 'ok' ? 200 : 503).json({ status, checks: { db } });
  };
}
