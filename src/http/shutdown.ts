// Graceful shutdown (SIGTERM/SIGINT): stop accepting connections, let running clones and pushes
// finish for up to config.shutdownTimeoutMs, then cut off whatever is left and close the
// repositories and SQLite cleanly. A push cut off mid-upload changes nothing: receive-pack moves
// refs only after the whole pack has been received, indexed and verified, and an interrupted
// ingest removes its temporary files (recoverDataDir sweeps any leftovers on the next start).
import type { Logger } from 'pino';
import type { Services } from '../service/services.js';
import type { RunningServer } from './server.js';

export interface ShutdownResult {
  /** True when running requests had to be cut off at the deadline. */
  forced: boolean;
  /** Requests still running when shutdown began. */
  inFlight: number;
}

const UNWIND_MS = 5_000; // after connections are cut: time for handlers to release locks and files

function sleep(ms: number): Promise<'timeout'> {
  return new Promise((resolve) => setTimeout(() => resolve('timeout'), ms).unref());
}

export async function gracefulShutdown(running: RunningServer, ctx: Services, opts: { timeoutMs?: number; log?: Logger } = {}): Promise<ShutdownResult> {
  const timeoutMs = opts.timeoutMs ?? ctx.config.shutdownTimeoutMs;
  const log = opts.log ?? ctx.log;
  running.runtime.shuttingDown = true;
  // event feeds answer now and SSE streams end; webhook attempts in flight are aborted and stay queued
  ctx.events.stop();
  await ctx.webhooks.dispatcher.stop();
  const { activity } = running.runtime;
  const inFlight = activity.count('request');
  log.info({ in_flight: inFlight, clones: activity.count('clone'), pushes: activity.count('push'), timeout_ms: timeoutMs }, 'shutting down: no new connections');

  const { server } = running;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  // keep-alive connections become idle as their responses end: close them as they do
  server.closeIdleConnections();
  const sweeper = setInterval(() => server.closeIdleConnections(), 100);
  sweeper.unref();

  let forced = false;
  try {
    const drained = Promise.all([closed, activity.idle()]).then(() => 'drained' as const);
    if ((await Promise.race([drained, sleep(timeoutMs)])) === 'timeout') {
      forced = true;
      log.warn({ clones: activity.count('clone'), pushes: activity.count('push') }, 'shutdown deadline reached: cutting off running requests');
      server.closeAllConnections();
      await Promise.race([Promise.all([closed, activity.idle()]), sleep(UNWIND_MS)]);
    }
  } finally {
    clearInterval(sweeper);
  }
  await ctx.close();
  log.info({ forced }, 'shutdown complete');
  return { forced, inFlight };
}

/** serve's signal handling: the first SIGTERM/SIGINT shuts down gracefully and exits 0; a
 *  second one exits at once. With HTTPS, SIGHUP reloads the certificate. */
export function installSignalHandlers(running: RunningServer, ctx: Services, exit: (code: number) => void = (c) => process.exit(c)): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      ctx.log.warn({ signal }, 'second signal: exiting now');
      exit(1);
      return;
    }
    stopping = true;
    ctx.log.info({ signal }, 'signal received');
    gracefulShutdown(running, ctx).then(
      () => exit(0),
      (err: unknown) => {
        ctx.log.error({ err }, 'shutdown failed');
        exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // SIGHUP re-reads the TLS certificate and key (renewed in place); a bad pair keeps the old one
  if (ctx.config.tls) {
    process.on('SIGHUP', () => {
      try {
        running.reloadTls();
        ctx.log.info({ cert: ctx.config.tls?.cert }, 'TLS certificate reloaded');
      } catch (err) {
        ctx.log.error({ err: (err as Error).message }, 'TLS certificate reload failed: keeping the previous one');
      }
    });
  }
}
