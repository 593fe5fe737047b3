// A loopback HTTP listener that records every TCP connection and every request's headers, for
// tests that must prove what gitgate (or its CLI) did or did not send somewhere.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

export interface Listener {
  /** http://host:port (IPv6 hosts in brackets) */
  url: string;
  port: number;
  connections: number;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

export type ListenerHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** Listens on `host` (127.0.0.1 by default), port 0 unless given; answers 404 unless `handler` says otherwise. */
export async function recordingListener(handler?: ListenerHandler, host = '127.0.0.1', port = 0): Promise<Listener> {
  const server = http.createServer((req, res) => {
    listener.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    if (handler) return handler(req, res); // the handler reads the body (or not)
    req.resume();
    res.writeHead(404).end();
  });
  server.on('connection', () => listener.connections++);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const bound = (server.address() as AddressInfo).port;
  const listener: Listener = {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}`,
    port: bound,
    connections: 0,
    requests: [],
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
  return listener;
}
