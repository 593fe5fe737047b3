// LOG_FORMAT=pretty / --log-pretty: pino's JSON lines turned into one short line each for
// people watching a terminal:
//   12:04:05.123 INFO  request GET /v1/repo/:id/git-upload-pack 200 12.3ms in=1.2kB out=4.5MB token=abc repo=def req=…
// A hand-written formatter (pino-pretty is not a dependency); unknown fields follow as k=v.

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
const COLORS: Record<number, string> = { 10: '90', 20: '36', 30: '32', 40: '33', 50: '31', 60: '35' };
const SHOWN = new Set(['level', 'time', 'msg', 'method', 'route', 'url', 'status', 'ms', 'bytes_in', 'bytes_out', 'token_id', 'repo_id', 'req_id', 'err']);

function bytes(n: unknown): string {
  if (typeof n !== 'number') return '-';
  if (n < 1024) return `${n}B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)}kB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)}MB`;
  return `${(n / 1024 ** 3).toFixed(2)}GB`;
}

function scalar(v: unknown): string {
  if (typeof v === 'string') return /[\s"=]/.test(v) ? JSON.stringify(v) : v;
  return JSON.stringify(v);
}

/** One pino JSON line -> one human line (newline included). Non-JSON input passes through. */
export function formatLine(line: string, color = false): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const level = typeof o.level === 'number' ? o.level : 30;
  const time = typeof o.time === 'string' ? o.time.slice(11, 23) : new Date(typeof o.time === 'number' ? o.time : Date.now()).toISOString().slice(11, 23);
  const name = LEVELS[level] ?? String(level);
  const parts: string[] = [time, color ? `\x1b[${COLORS[level] ?? '0'}m${name}\x1b[0m` : name, String(o.msg ?? '')];
  if (o.method !== undefined) parts.push(String(o.method), String(o.route ?? o.url ?? ''));
  if (o.status !== undefined) parts.push(String(o.status));
  if (typeof o.ms === 'number') parts.push(`${o.ms.toFixed(1)}ms`);
  if (o.bytes_in !== undefined || o.bytes_out !== undefined) parts.push(`in=${bytes(o.bytes_in)}`, `out=${bytes(o.bytes_out)}`);
  if (o.token_id) parts.push(`token=${String(o.token_id)}`);
  if (o.repo_id) parts.push(`repo=${String(o.repo_id)}`);
  for (const [k, v] of Object.entries(o)) if (!SHOWN.has(k) && v !== undefined) parts.push(`${k}=${scalar(v)}`);
  if (o.req_id) parts.push(`req=${String(o.req_id)}`);
  let out = parts.join(' ');
  const err = o.err as { type?: string; message?: string; stack?: string } | undefined;
  if (err) out += `\n${(err.stack ?? `${err.type ?? 'Error'}: ${err.message ?? ''}`).replace(/^/gm, '    ')}`;
  return `${out}\n`;
}

/** A pino destination writing pretty lines to `out` (stderr). */
export function prettyDestination(out: NodeJS.WritableStream & { isTTY?: boolean }): { write(chunk: string): boolean } {
  const color = !!out.isTTY && !process.env.NO_COLOR;
  return {
    write(chunk: string): boolean {
      let text = '';
      for (const line of chunk.split('\n')) if (line) text += formatLine(line, color);
      return out.write(text);
    },
  };
}
