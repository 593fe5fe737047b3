// Streamable HTTP MCP at /mcp: authenticated by the same middleware as REST (Bearer or Basic
// gitgate token) before the body is read; stateless (a server and transport per request, no
// session), so each call is judged against the token as it is at that moment — a revoked
// token's next call fails with 401.
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { Router, type ErrorRequestHandler, type Request, type Response } from 'express';
import { pino } from 'pino';
import { GitgateError } from '../../errors.js';
import type { Services } from '../../service/services.js';
import type { HttpRuntime } from '../runtime.js';
import { authenticate, token } from '../auth.js';
import { jsonBodyReader } from '../body.js';
import { sendError, toGitgateError } from '../errors.js';
import { mcpServerFor } from './tools.js';

export function mcpRoutes(ctx: Services, rt: HttpRuntime): Router {
  const router = Router();
  const readBody = jsonBodyReader(ctx);
  router.post('/mcp', authenticate(ctx, rt), async (req, res) => {
    const body = await readBody(req, res);
    const server = mcpServerFor(ctx, token(res), req.log ?? pino({ level: 'silent' }));
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  });
  // no sessions, so no server-initiated stream (GET) and nothing to end (DELETE)
  const notAllowed = (req: Request, res: Response) => {
    res.setHeader('Allow', 'POST');
    sendError(res, new GitgateError('METHOD_NOT_ALLOWED', { method: req.method, detail: 'this MCP endpoint is stateless; send JSON-RPC with POST' }), 'json');
  };
  router.get('/mcp', authenticate(ctx, rt), notAllowed);
  router.delete('/mcp', authenticate(ctx, rt), notAllowed);
  router.use('/mcp', ((err, _req, res, _next) => {
    if (res.headersSent) return void res.destroy();
    sendError(res, toGitgateError(err), 'json');
  }) as ErrorRequestHandler);
  return router;
}
