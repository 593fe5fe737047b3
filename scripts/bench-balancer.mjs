// A local HTTP load balancer for `npm run bench -- --nodes N` (standing in for the nginx of
// README § Running several nodes): least connections per request, ties taken in turn (so
// sequential requests go round-robin), request and response bodies streamed both ways with
// backpressure and no buffering. Per request, not per connection: the info/refs and the POST
// of one clone may land on different nodes, as behind nginx.
//
//   node scripts/bench-balancer.mjs http://127.0.0.1:PORT1 http://127.0.0.1:PORT2 …
//
// Prints `listening on http://127.0.0.1:PORT` and, on SIGTERM, how many requests each upstream got.
import http from 'node:http';
import { pathToFileURL } from 'node:url';

// hop-by-hop headers (RFC 9110 §7.6.1) are not forwarded
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'expect']);

function forwardHeaders(headers) {
  const out = {};
  for (const [k, v] of Object.entries(headers)) if (!HOP.has(k)) out[k] = v;
  return out;
}

export function startBalancer(targets, { port = 0, log = () => {} } = {}) {
  // A new upstream connection per request, as nginx without `keepalive`: a reused idle
  // connection the node closes at that moment would fail a push whose body cannot be replayed.
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  const upstreams = targets.map((t) => ({ url: new URL(t), active: 0, requests: 0 }));
  let turn = 0;
  const pick = () => {
    const min = Math.min(...upstreams.map((u) => u.active));
    for (let i = 0; i < upstreams.length; i++) {
      const u = upstreams[(turn + i) % upstreams.length];
      if (u.active === min) { turn = (turn + i + 1) % upstreams.length; return u; }
    }
    return upstreams[0];
  };

  const handle = (req, res) => {
    const up = pick();
    up.active++;
    up.requests++;
    let done = false;
    const finish = () => { if (!done) { done = true; up.active--; } };
    res.on('close', finish);
    const headers = forwardHeaders(req.headers);
    headers['x-forwarded-for'] = req.socket.remoteAddress;
    const out = http.request({ host: up.url.hostname, port: up.url.port, method: req.method, path: req.url, headers, agent }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, forwardHeaders(ur.headers));
      ur.pipe(res);
      ur.on('error', () => res.destroy());
    });
    out.on('error', (e) => {
      log(`${req.method} ${req.url.replace(/\?.*/, '')} → ${up.url.host}: ${e.code ?? e.message}${res.headersSent ? ' (response cut)' : ' (502)'}`);
      if (!res.headersSent) { res.writeHead(502, { 'content-type': 'text/plain' }); res.end(`balancer: ${up.url.host}: ${e.message}\n`); }
      else res.destroy();
    });
    req.on('error', () => out.destroy());
    res.on('close', () => { if (!res.writableFinished) out.destroy(); });
    req.pipe(out);
  };

  const server = http.createServer({ requestTimeout: 0, headersTimeout: 60_000, keepAliveTimeout: 5_000 }, handle);
  // git sends `Expect: 100-continue` for large pushes: answer it here, stream the body on
  server.on('checkContinue', (req, res) => { res.writeContinue(); handle(req, res); });
  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(port, '127.0.0.1', () => resolve({
      port: server.address().port,
      counts: () => upstreams.map((u) => u.requests),
      close: () => new Promise((r) => { server.closeAllConnections(); agent.destroy(); server.close(() => r()); }),
    }));
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const targets = process.argv.slice(2);
  if (!targets.length) { console.error('usage: node scripts/bench-balancer.mjs http://127.0.0.1:PORT …'); process.exit(2); }
  const lb = await startBalancer(targets, { log: (m) => console.error(`${new Date().toISOString()} ${m}`) });
  console.log(`listening on http://127.0.0.1:${lb.port}`);
  const stop = () => {
    console.error(`requests per upstream: ${targets.map((t, i) => `${t} ${lb.counts()[i]}`).join(', ')}`);
    void lb.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop).once('SIGINT', stop);
}
