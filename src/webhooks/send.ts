// One delivery attempt: a POST under the server-side request policy (src/net), no redirects
// followed, a deadline for the whole exchange. Errors are described by kind, never with the
// URL or the address connected to.
import { DestinationRefused, type RequestPolicy } from '../net/request-policy.js';

export interface SendResult {
  statusCode: number | null;
  durationMs: number;
  error: string | null;
  /** The request policy refused the destination: retrying will not help. */
  refused: boolean;
}

const MAX_RESPONSE_BYTES = 64 * 1024; // the body is not kept: read a little, then hang up

const CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  EPIPE: 'connection closed',
};

export function describeError(err: unknown): string {
  if (err instanceof DestinationRefused) return err.message;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    if (CODES[code]) return CODES[code];
    if (/CERT|SSL|TLS/.test(code)) return `TLS error (${code})`;
    return `request failed (${code})`;
  }
  return 'request failed';
}

export function sendDelivery(
  policy: RequestPolicy,
  url: string,
  headers: Record<string, string>,
  body: Buffer,
  opts: { timeoutMs: number; signal: AbortSignal },
): Promise<SendResult> {
  const start = process.hrtime.bigint();
  const elapsed = () => Math.round(Number(process.hrtime.bigint() - start) / 1e6);
  return new Promise((resolve) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    let refused = false;
    const finish = (statusCode: number | null, error: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ statusCode, durationMs: elapsed(), error, refused });
    };
    const failed = (err: unknown) => {
      refused = err instanceof DestinationRefused;
      finish(null, opts.signal.aborted ? 'aborted by shutdown' : describeError(err));
    };
    let req: ReturnType<RequestPolicy['request']>;
    try {
      req = policy.request(new URL(url), { method: 'POST', headers: { ...headers, 'Content-Length': String(body.length) }, signal: opts.signal });
    } catch (err) {
      failed(err);
      return;
    }
    timer = setTimeout(() => {
      finish(null, `timed out after ${Math.round(opts.timeoutMs / 1000)} s`);
      req.destroy();
    }, opts.timeoutMs);
    req.on('error', failed);
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      let read = 0;
      res.on('data', (chunk: Buffer) => {
        read += chunk.length;
        if (read > MAX_RESPONSE_BYTES) {
          finish(status, status >= 200 && status < 300 ? null : `HTTP ${status}`);
          res.destroy();
        }
      });
      res.on('error', () => finish(status, `HTTP ${status}, response cut off`));
      res.on('end', () => {
        if (status >= 200 && status < 300) finish(status, null);
        else if (status >= 300 && status < 400) finish(status, `HTTP ${status}: redirects are not followed`);
        else finish(status, `HTTP ${status}`);
      });
    });
    req.end(body);
  });
}
