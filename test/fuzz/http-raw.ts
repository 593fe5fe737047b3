// A raw HTTP/1.1 client over a TCP socket. Node's own client refuses the inputs a fuzzer
// wants to send (NUL or spaces in the path, bytes above 0x7f in headers, lying lengths), so
// requests are written byte for byte and the response is parsed here.
import net from 'node:net';

export type BodySource = Buffer | (() => AsyncIterable<Buffer>);

export interface RawRequest {
  method: string;
  /** Sent verbatim (latin1), never normalised. */
  path: string;
  /** Sent verbatim in this order (latin1); Host and Connection are added unless present. */
  headers: [string, string][];
  body?: BodySource;
  /** Transfer-Encoding: chunked instead of Content-Length (streamed bodies always use it). */
  chunked?: boolean;
  /** Omit the Content-Length / Transfer-Encoding header (the caller sets its own). */
  rawFraming?: boolean;
  /** Hang up after writing this many body bytes (a client that goes away mid-upload). */
  abortAfter?: number;
  /** Send `Connection: close` (otherwise the connection is persistent, as git's is, and we close it after the response). */
  connectionClose?: boolean;
}

export interface RawResponse {
  /** 0 when no status line arrived. */
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** The body's framing completed (Content-Length reached, terminal chunk, or close-delimited). */
  complete: boolean;
  /** Transport problem: 'timeout', 'ECONNRESET', 'no response', … */
  error?: string;
  timedOut: boolean;
  ms: number;
  /** Request bytes actually written before the exchange ended. */
  sentBytes: number;
}

const MAX_RESPONSE = 64 * 1024 * 1024;

export async function sendRaw(host: string, port: number, req: RawRequest, timeoutMs: number): Promise<RawResponse> {
  const started = performance.now();
  const done = framingTracker(req.method === 'HEAD');
  const socket = net.connect({ host, port });
  socket.setNoDelay(true);
  const chunks: Buffer[] = [];
  let received = 0;
  let ended = false;
  let transportError: string | undefined;
  let timedOut = false;
  let sentBytes = 0;
  let tooBig = false;

  const finished = new Promise<void>((resolve) => {
    socket.on('data', (d: Buffer) => {
      received += d.length;
      if (received > MAX_RESPONSE) {
        tooBig = true;
        socket.destroy();
        return;
      }
      chunks.push(d);
      // a persistent connection: the response ends where its framing says, then we hang up
      if (done(d)) socket.destroy();
    });
    socket.on('end', () => {
      ended = true;
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      transportError ??= err.code ?? err.message;
    });
    socket.on('close', () => resolve());
  });
  const timer = setTimeout(() => {
    timedOut = true;
    socket.destroy();
  }, timeoutMs);

  let headBytes = -1;
  let aborting = false;
  const write = (data: Buffer): Promise<void> =>
    new Promise((resolve) => {
      if (aborting || socket.destroyed || !socket.writable) return resolve();
      if (req.abortAfter !== undefined && headBytes >= 0 && sentBytes - headBytes + data.length > req.abortAfter) {
        const keep = Math.max(0, req.abortAfter - (sentBytes - headBytes));
        socket.write(data.subarray(0, keep));
        sentBytes += keep;
        aborting = true;
        // give the bytes a moment to leave, then vanish without reading the answer
        setTimeout(() => socket.destroy(), 50);
        return resolve();
      }
      const ok = socket.write(data, () => undefined);
      sentBytes += data.length;
      if (ok) resolve();
      else {
        const done = () => {
          socket.off('drain', done);
          socket.off('close', done);
          resolve();
        };
        socket.on('drain', done);
        socket.on('close', done);
      }
    });

  const sendAll = async () => {
    await new Promise<void>((resolve) => {
      if (socket.connecting) socket.once('connect', () => resolve());
      else resolve();
      socket.once('error', () => resolve());
    });
    if (socket.destroyed) return;
    const names = new Set(req.headers.map(([k]) => k.toLowerCase()));
    const lines = [`${req.method} ${req.path} HTTP/1.1`];
    if (!names.has('host')) lines.push(`Host: ${host}:${port}`);
    for (const [k, v] of req.headers) lines.push(`${k}: ${v}`);
    if (req.connectionClose && !names.has('connection')) lines.push('Connection: close');
    const body = req.body;
    const streamed = typeof body === 'function';
    const chunked = streamed || req.chunked === true;
    if (!req.rawFraming && body !== undefined) {
      if (chunked) lines.push('Transfer-Encoding: chunked');
      else lines.push(`Content-Length: ${(body as Buffer).length}`);
    }
    await write(Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'));
    headBytes = sentBytes;
    if (body === undefined) return;
    if (!chunked) {
      // in pieces, so an early answer (or a closed connection) stops the upload
      const buf = body as Buffer;
      for (let off = 0; off < buf.length && !socket.destroyed; off += 256 * 1024) {
        await write(buf.subarray(off, Math.min(buf.length, off + 256 * 1024)));
        if (received > 0 && transportError) break;
      }
      return;
    }
    const source: AsyncIterable<Buffer> | Iterable<Buffer> = streamed ? (body as () => AsyncIterable<Buffer>)() : [body as Buffer];
    for await (const piece of source) {
      if (socket.destroyed) break;
      if (piece.length === 0) continue;
      await write(Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')]));
    }
    if (!socket.destroyed) await write(Buffer.from('0\r\n\r\n'));
  };
  await sendAll().catch((err: Error) => {
    transportError ??= (err as NodeJS.ErrnoException).code ?? err.message;
  });
  await finished;
  clearTimeout(timer);
  const ms = performance.now() - started;
  const raw = Buffer.concat(chunks);
  const parsed = parseResponse(raw, req.method === 'HEAD');
  void ended;
  return {
    ...parsed,
    complete: parsed.complete && !tooBig,
    error: timedOut ? 'timeout' : tooBig ? 'response too large' : parsed.status === 0 ? (transportError ?? 'no response') : transportError,
    timedOut,
    ms,
    sentBytes,
  };
}

/**
 * Feeds response bytes as they arrive; true once the response is complete by its own framing
 * (Content-Length reached, or the last chunk of a chunked body). Close-delimited bodies never are.
 */
function framingTracker(isHead: boolean): (chunk: Buffer) => boolean {
  let headBuf = Buffer.alloc(0);
  let framing: { length: number | null; chunked: boolean; none: boolean } | null = null;
  let bodyBytes = 0;
  let tail = Buffer.alloc(0);
  let all: Buffer[] = [];
  return (chunk) => {
    if (!framing) {
      headBuf = Buffer.concat([headBuf, chunk]);
      const end = headBuf.indexOf('\r\n\r\n');
      if (end < 0) return false;
      const h = headBuf.subarray(0, end).toString('latin1');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(h)?.[1] ?? 0);
      if (status >= 100 && status < 200) {
        headBuf = headBuf.subarray(end + 4);
        return false;
      }
      const cl = /\r\ncontent-length:\s*(\d+)/i.exec(h);
      framing = { length: cl ? Number(cl[1]) : null, chunked: /\r\ntransfer-encoding:[^\r]*chunked/i.test(h), none: isHead || status === 204 || status === 304 };
      chunk = headBuf.subarray(end + 4);
    }
    if (framing.none) return true;
    bodyBytes += chunk.length;
    if (framing.chunked) {
      all.push(chunk);
      tail = Buffer.concat([tail, chunk]).subarray(-7);
      if (!tail.toString('latin1').endsWith('0\r\n\r\n')) return false;
      const complete = parseResponse(Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'), ...all])).complete;
      if (complete) all = [];
      return complete;
    }
    if (framing.length !== null) return bodyBytes >= framing.length;
    return false;
  };
}

/** Parses a whole (close-delimited) response; tolerates truncation. */
export function parseResponse(raw: Buffer, isHead = false): { status: number; headers: Record<string, string>; body: Buffer; complete: boolean } {
  const headEnd = raw.indexOf('\r\n\r\n');
  if (headEnd < 0) return { status: 0, headers: {}, body: Buffer.alloc(0), complete: false };
  const head = raw.subarray(0, headEnd).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '');
  const status = m ? Number(m[1]) : 0;
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const k = line.slice(0, colon).trim().toLowerCase();
    const v = line.slice(colon + 1).trim();
    headers[k] = k in headers ? `${headers[k]}, ${v}` : v;
  }
  const rest = raw.subarray(headEnd + 4);
  if (isHead || status === 204 || status === 304) return { status, headers, body: Buffer.alloc(0), complete: true };
  if ((headers['transfer-encoding'] ?? '').toLowerCase().includes('chunked')) {
    const out: Buffer[] = [];
    let pos = 0;
    for (;;) {
      const eol = rest.indexOf('\r\n', pos);
      if (eol < 0) return { status, headers, body: Buffer.concat(out), complete: false };
      const size = parseInt(rest.subarray(pos, eol).toString('latin1').split(';')[0]!, 16);
      if (!Number.isFinite(size)) return { status, headers, body: Buffer.concat(out), complete: false };
      if (size === 0) return { status, headers, body: Buffer.concat(out), complete: true };
      const start = eol + 2;
      if (start + size > rest.length) {
        out.push(rest.subarray(start));
        return { status, headers, body: Buffer.concat(out), complete: false };
      }
      out.push(rest.subarray(start, start + size));
      pos = start + size + 2;
    }
  }
  if (headers['content-length'] !== undefined) {
    const n = Number(headers['content-length']);
    return { status, headers, body: rest.subarray(0, n), complete: rest.length >= n };
  }
  return { status, headers, body: rest, complete: true };
}
