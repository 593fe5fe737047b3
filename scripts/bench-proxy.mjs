// A counting TCP proxy: put in front of a server, it forwards bytes unchanged and counts them
// in each direction, HTTP headers and chunk framing included ("bytes on the wire"). The same
// proxy is used for gitgate and for git http-backend, and only for untimed runs.
import net from 'node:net';

/** Listen on 127.0.0.1:0 and forward to 127.0.0.1:targetPort (changeable with retarget()). */
export function startCountingProxy(targetPort) {
  const counts = { down: 0, up: 0, connections: 0 };
  const sockets = new Set();
  const server = net.createServer((client) => {
    counts.connections++;
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.on('data', (d) => { counts.up += d.length; });
    upstream.on('data', (d) => { counts.down += d.length; });
    client.pipe(upstream);
    upstream.pipe(client);
    const close = () => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream); };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  });
  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => resolve({
      port: server.address().port,
      retarget(port) { targetPort = port; },
      /** Zero the counters and return a function that reads { down, up } since then. */
      measure() {
        const start = { down: counts.down, up: counts.up };
        return () => ({ down: counts.down - start.down, up: counts.up - start.up });
      },
      close() {
        for (const s of sockets) s.destroy();
        return new Promise((r) => server.close(() => r()));
      },
    }));
  });
}
