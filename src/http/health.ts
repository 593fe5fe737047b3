// GET /healthz: 200 {"status":"ok","checks":{"db":"ok"},"node":"<node id>","database":"sqlite"|"postgres"} when the database answers (Stores.ping); 503 with
// status "error" when it does not, or "shutting_down" once a graceful shutdown has begun (so a
// load balancer stops routing here while running requests finish).
import type { RequestHandler } from 'express';
import type { Services } from '../service/services.js';
import type { HttpRuntime } from './runtime.js';

export function healthHandler(ctx: Services, rt: HttpRuntime): RequestHandler {
  return async (req, res) => {
    let db: 'ok' | 'error' = 'ok';
    try {
      await ctx.stores.ping();
    } catch (err) {
      db = 'error';
      req.log?.error({ err }, 'health check: database unavailable');
    }
    const status = db !== 'ok' ? 'error' : rt.shuttingDown ? 'shutting_down' : 'ok';
    res.setHeader('Cache-Control', 'no-cache');
    res.status(status === 'ok' ? 200 : 503).json({ status, checks: { db }, node: ctx.config.nodeId, database: ctx.stores.kind });
  };
}
