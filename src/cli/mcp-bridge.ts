// `gitgate mcp`: the Model Context Protocol over stdio for a local agent. It relays every
// JSON-RPC message to the server's /mcp endpoint (Streamable HTTP) with the token as Bearer,
// so the tools run in the server, under the same rules as REST, with one implementation; this
// process holds no data directory and decides nothing. The token is only ever sent in the
// Authorization header to that one server; stdout carries nothing but MCP messages.
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { parseSecret } from '../auth/token-format.js';
import { redactSecrets } from '../redact.js';
import { assertTransport, HelperError, readParent } from './credential.js';

export interface McpOptions {
  /** The server's base URL (the command fills in GITGATE_URL or its default). */
  server: string;
  token?: string;
  tokenFile?: string;
  allowHttp?: boolean;
}

function tokenOf(opts: McpOptions, env: NodeJS.ProcessEnv): string {
  if (opts.token !== undefined) {
    const secret = opts.token.trim();
    if (!parseSecret(secret)) throw new HelperError('the token from --token is not a well-formed gitgate token');
    return secret;
  }
  const parent = readParent({ tokenFile: opts.tokenFile }, env);
  if (!parent) throw new HelperError('no token: set GITGATE_TOKEN (or GITGATE_TOKEN_FILE), or pass --token-file or --token');
  return parent.secret;
}

/** Relays stdio <-> <server>/mcp until stdin closes. */
export async function runMcpBridge(opts: McpOptions, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const secret = tokenOf(opts, env);
  let base: URL;
  try {
    base = new URL(opts.server);
  } catch {
    throw new HelperError('--server (or GITGATE_URL) is not a URL');
  }
  assertTransport(base, opts.allowHttp === true);
  const upstream = new StreamableHTTPClientTransport(new URL('mcp', base.href.endsWith('/') ? base.href : `${base.href}/`), {
    requestInit: { headers: { Authorization: `Bearer ${secret}`, 'User-Agent': 'gitgate-mcp' } },
  });
  const local = new StdioServerTransport();
  const warn = (what: string, err: unknown) => process.stderr.write(`gitgate mcp: ${what}: ${redactSecrets(String((err as Error)?.message ?? err))}\n`);

  local.onmessage = (msg: JSONRPCMessage) => {
    upstream.send(msg).catch((err: unknown) => {
      warn('the server refused a message', err);
      // a request must get an answer, or the agent waits forever
      if ('id' in msg && 'method' in msg) {
        const message = redactSecrets(String((err as Error)?.message ?? err));
        void local.send({ jsonrpc: '2.0', id: msg.id, error: { code: -32000, message: `gitgate: ${message}` } });
      }
    });
  };
  upstream.onmessage = (msg: JSONRPCMessage) => void local.send(msg);
  upstream.onerror = (err: Error) => warn('connection', err);
  const closed = new Promise<void>((resolve) => {
    local.onclose = () => resolve();
  });
  await upstream.start();
  await local.start();
  process.stdin.on('end', () => void local.close());
  await closed;
  await upstream.close();
}

