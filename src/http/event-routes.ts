// REST: the event stream for orchestrators without a public endpoint. GET /v1/events?after=N
// answers {items, cursor}; with wait=S it long-polls, answering as soon as an event the token
// may see is recorded (or after S seconds with no items). With Accept: text/event-stream it
// streams Server-Sent Events (id = cursor; Last-Event-ID resumes). Any token; scoped by
// src/events/visibility.ts.
import { Router, type Request, type Response } from 'express';
import type { TokenRecord } from '../auth/token-record.js';
import { readFeed } from '../events/feed.js';
import type { Services } from '../service/services.js';
import type { HttpRuntime } from './runtime.js';
import { isLive } from '../webhooks/dispatcher.js';
import { authenticate, token } from './auth.js';
import { parseWith } from './validate.js';
import { cursorSchema, eventsQuery } from './request-schemas.js';

const SSE_BATCH = 100;

/** Aborts when the client goes away (the response closes before we end it). */
function clientGone(res: Response): AbortSignal {
  const ac = new AbortController();
  res.once('close', () => ac.abort());
  return ac.signal;
}

/** Keep the socket's idle timeout from cutting a long poll or a quiet stream short. */
function holdSocket(ctx: Services, req: Request, res: Response, ms: number): void {
  const idle = ctx.config.idleTimeoutMs;
  if (idle === 0 || ms < idle) return;
  req.socket.setTimeout(ms);
  res.once('finish', () => req.socket.setTimeout(idle));
}

export function eventRoutes(ctx: Services, rt: HttpRuntime): Router {
  const router = Router();
  const lookup = (id: string) => ctx.tokens.get(id);

  router.get('/v1/events', authenticate(ctx, rt), async (req, res) => {
    const tok = token(res);
    const q = parseWith(eventsQuery, req.query);
    const lastEventId = req.header('last-event-id');
    const after = lastEventId !== undefined ? parseWith(cursorSchema, lastEventId) : (q.after ?? 0);
    res.setHeader('Cache-Control', 'no-cache');
    if (req.accepts(['application/json', 'text/event-stream']) === 'text/event-stream') {
      await stream(ctx, res, tok, after);
      return;
    }
    const limit = q.limit ?? 100;
    let page = await readFeed(ctx.audit, tok, after, limit, lookup);
    const waitMs = (q.wait ?? 0) * 1000;
    if (page.items.length === 0 && waitMs > 0) {
      holdSocket(ctx, req, res, waitMs + 5_000);
      const deadline = Date.now() + waitMs;
      const gone = clientGone(res);
      while (page.items.length === 0) {
        const left = deadline - Date.now();
        if (left <= 0) break;
        const woke = await ctx.events.wait(left, gone);
        if (woke === 'aborted') return;
        page = await readFeed(ctx.audit, tok, Number(page.cursor), limit, lookup);
        if (woke !== 'event') break;
      }
    }
    res.json(page);
  });

  return router;
}

/** SSE until the client leaves, the server shuts down or the token stops being valid (or, for
 *  the web console, `stillValid` says its session ended). */
export async function stream(ctx: Services, res: Response, tok: TokenRecord, after: number, stillValid: () => boolean = () => true): Promise<void> {
  const heartbeatMs = Math.min(15_000, ctx.config.idleTimeoutMs > 0 ? Math.floor(ctx.config.idleTimeoutMs / 2) : 15_000);
  const gone = clientGone(res);
  res.status(200);
  res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
  res.setHeader('X-Accel-Buffering', 'no'); // reverse proxies: do not buffer the stream
  res.flushHeaders();
  res.write('retry: 3000\n\n');
  let cursor = after;
  while (!gone.aborted && !ctx.events.stopped) {
    if (!isLive(await ctx.tokens.get(tok.id), Date.now()) || !stillValid()) break; // revoked or expired while streaming
    const page = await readFeed(ctx.audit, tok, cursor, SSE_BATCH, (id) => ctx.tokens.get(id));
    for (const item of page.items) res.write(`id: ${item.id}\nevent: ${item.type}\ndata: ${JSON.stringify(item)}\n\n`);
    cursor = Number(page.cursor);
    if (page.items.length === SSE_BATCH) continue; // more are waiting
    const woke = await ctx.events.wait(heartbeatMs, gone);
    if (woke === 'timeout') res.write(': keep-alive\n\n');
    if (woke === 'aborted') return;
  }
  if (!gone.aborted) res.end();
}
