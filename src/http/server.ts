// Starts the HTTP (or HTTPS) server over the core services with its own runtime state; close() stops accepting and drains.
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Services } from '../service/services.js';
import { createApp } from './app.js';
import { createHttpRuntime, type HttpRuntime } from './runtime.js';
import { loadSecureContextOptions } from './tls.js';

export interface RunningServer {
  url: string;
  server: http.Server | https.Server;
  /** Throttle, in-flight counts, metrics and the shutdown flag of this server. */
  runtime: HttpRuntime;
  /** Re-read the TLS certificate and key (HTTPS only): new handshakes use them, open connections
   *  keep theirs. Throws CONFIG (and keeps the old pair) when the files are not usable. */
  reloadTls(): void;
  close(): Promise<void>;
}

export async function startServer(ctx: Services, host: string, port: number): Promise<RunningServer> {
  const runtime = createHttpRuntime(ctx.config, ctx.guards);
  const app = createApp(ctx, runtime);
  const tlsFiles = ctx.config.tls;
  const server = tlsFiles ? https.createServer(loadSecureContextOptions(tlsFiles), app) : http.createServer(app);
  server.headersTimeout = ctx.config.headersTimeoutMs; // a client that never finishes its headers
  server.requestTimeout = 0; // clones and pushes of any size: idle timeouts instead
  // a socket with no bytes either way for this long is destroyed (slow-loris, stalled uploads)
  server.timeout = ctx.config.idleTimeoutMs;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // background work that belongs to a serving process: feeds see other processes' events,
  // queued webhook deliveries (from before a restart too) go out
  ctx.events.start();
  ctx.webhooks.dispatcher.start();
  const addr = server.address() as AddressInfo;
  const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `${tlsFiles ? 'https' : 'http'}://${shownHost}:${addr.port}`,
    server,
    runtime,
    reloadTls() {
      if (!tlsFiles) return;
      (server as https.Server).setSecureContext(loadSecureContextOptions(tlsFiles));
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
