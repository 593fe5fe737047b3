// The reference server for the benchmark: C Git's `git http-backend` run as a CGI program
// behind a minimal Node HTTP server, the way Apache or nginx+fcgiwrap would run it.
// Request bodies are piped to the CGI's stdin and its stdout is piped to the response, with
// backpressure both ways; nothing is buffered whole.
//
//   node scripts/bench-cgi-server.mjs --root DIR [--port N]
// prints `listening on http://127.0.0.1:PORT`. Repositories are DIR/<name>.git.
import { spawn } from 'node:child_process';
import http from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { root: { type: 'string' }, port: { type: 'string', default: '0' } } });
if (!values.root) {
  process.stderr.write('usage: bench-cgi-server.mjs --root DIR [--port N]\n');
  process.exit(2);
}

// Inherit only what git needs; the runner passes a config-free environment.
const baseEnv = {};
for (const k of ['PATH', 'HOME', 'XDG_CONFIG_HOME', 'GIT_CONFIG_NOSYSTEM', 'GIT_CONFIG_GLOBAL', 'LANG', 'LC_ALL', 'TZ']) {
  if (process.env[k] != null) baseEnv[k] = process.env[k];
}

const HEADER_END = /\r?\n\r?\n/;

function handle(req, res) {
  const url = new URL(req.url, 'http://localhost');
  const env = {
    ...baseEnv,
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_PROTOCOL: `HTTP/${req.httpVersion}`,
    SERVER_SOFTWARE: 'gitgate-bench-cgi',
    GIT_PROJECT_ROOT: values.root,
    GIT_HTTP_EXPORT_ALL: '1',
    REQUEST_METHOD: req.method,
    PATH_INFO: decodeURIComponent(url.pathname),
    QUERY_STRING: url.search.slice(1),
    REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
    REMOTE_USER: 'bench', // an authenticated user: enables receive-pack, as behind real auth
  };
  if (req.headers['content-type']) env.CONTENT_TYPE = req.headers['content-type'];
  if (req.headers['content-length']) env.CONTENT_LENGTH = req.headers['content-length'];
  if (req.headers['content-encoding']) env.HTTP_CONTENT_ENCODING = req.headers['content-encoding'];
  if (req.headers['git-protocol']) env.HTTP_GIT_PROTOCOL = req.headers['git-protocol'];

  const child = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { if (stderr.length < 8192) stderr += d; });
  child.stdin.on('error', () => {}); // the CGI may exit without reading the body
  req.pipe(child.stdin);

  let head = Buffer.alloc(0);
  let headersSent = false;
  const onData = (chunk) => {
    head = Buffer.concat([head, chunk]);
    const text = head.toString('latin1');
    const m = HEADER_END.exec(text);
    if (!m) {
      if (head.length > 64 * 1024) fail(502, 'CGI header block too large');
      return;
    }
    child.stdout.off('data', onData);
    let status = 200;
    const headers = {};
    for (const line of text.slice(0, m.index).split(/\r?\n/)) {
      const i = line.indexOf(':');
      if (i <= 0) continue;
      const name = line.slice(0, i).trim();
      const value = line.slice(i + 1).trim();
      if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10) || 200;
      else headers[name] = value;
    }
    res.writeHead(status, headers);
    headersSent = true;
    const rest = head.subarray(m.index + m[0].length);
    if (rest.length) res.write(rest); // at most one chunk; pipe() applies backpressure from here on
    child.stdout.pipe(res);
  };
  const fail = (code, why) => {
    if (!headersSent) {
      headersSent = true;
      res.writeHead(code, { 'Content-Type': 'text/plain' });
      res.end(`${why}\n${stderr}`);
    } else res.destroy();
    child.kill('SIGKILL');
  };
  child.stdout.on('data', onData);
  child.on('error', (e) => fail(502, `cannot run git http-backend: ${e.message}`));
  child.on('close', (code) => {
    if (!headersSent) fail(502, `git http-backend exited with ${code} before sending headers`);
    else if (code !== 0 && stderr) process.stderr.write(`http-backend ${req.method} ${req.url}: exit ${code}: ${stderr}`);
  });
  res.on('close', () => { if (!res.writableFinished && child.exitCode == null) child.kill('SIGKILL'); });
}

const server = http.createServer(handle);
server.keepAliveTimeout = 30_000;
server.listen(Number(values.port), '127.0.0.1', () => {
  process.stdout.write(`listening on http://127.0.0.1:${server.address().port}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.once(sig, () => { server.close(); server.closeAllConnections(); process.exit(0); });
