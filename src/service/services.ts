// The core services of one gitgate instance, built once and shared by the HTTP server and the
// CLI: configuration, log, stores, repository storage, tokens, the audit log, events, webhooks.
// What only a serving process has (throttle, in-flight counts, metrics, shutdown) is the
// HttpRuntime of http/runtime.ts.
import { applyCacheBudgets } from './cache-budgets.js';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import type { Config } from '../config.js';
import { openGuardStore, openStores } from '../db/open.js';
import { PostgresStores } from '../db/postgres/stores.js';
import { clusterLocker } from '../repo/repo-lock.js';
import type { GuardStore, RepoStore, Stores, WebhookStore } from '../db/stores.js';
import { AuditLog } from '../audit/audit-log.js';
import { TokenService } from '../auth/token-service.js';
import { RepoManager } from '../repo/repo-manager.js';
import { memoryStorage, nodeStorage, type Storage } from '../repo/storage.js';
import { prettyDestination } from '../log/pretty.js';
import { ensurePrivateDir } from './data-dir.js';
import { redactSecrets } from '../redact.js';
import { EventBus } from '../events/bus.js';
import { RequestPolicy } from '../net/request-policy.js';
import { WebhookDispatcher } from '../webhooks/dispatcher.js';

export interface Services {
  config: Config;
  /** Tokens, repository records, audit trail, webhooks (db/stores.ts). */
  stores: Stores;
  storage: Storage;
  repos: RepoStore;
  tokens: TokenService;
  manager: RepoManager;
  log: Logger;
  /** The audit trail, passed to whatever records (the actor only says who acts). */
  audit: AuditLog;
  /** Failed-auth counts and requests in flight per token: in process, or shared by every node
   *  of a cluster (UNLOGGED PostgreSQL tables). */
  guards: GuardStore;
  /** Wakes event feeds and the webhook dispatcher when events are recorded. */
  events: EventBus;
  webhooks: { store: WebhookStore; dispatcher: WebhookDispatcher; policy: RequestPolicy };
  close(): Promise<void>;
}

export const DB_FILE = 'gitgate.db';

export function createLogger(level: string, format: 'json' | 'pretty' = 'json'): Logger {
  // Logs go to stderr: stdout carries what scripts read (the listening line, secrets).
  const dest = format === 'pretty' ? prettyDestination(process.stderr) : pino.destination(2);
  // the last line of defence: whatever a log call carries, no secret reaches the stream
  return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime, hooks: { streamWrite: redactSecrets } }, dest);
}

export function createServices(config: Config, log: Logger = createLogger(config.logLevel, config.logFormat)): Services {
  let storage: Storage;
  let stores: Stores;
  applyCacheBudgets(config.caches);
  if (config.memory) {
    storage = memoryStorage('/data', config.nodeId);
    stores = openStores({ sqliteFile: ':memory:', databaseUrl: config.databaseUrl });
  } else {
    ensurePrivateDir(config.dataDir); // 0700: repositories below it need no mode of their own
    storage = nodeStorage(config.dataDir, config.nodeId);
    stores = openStores({ sqliteFile: path.join(config.dataDir, DB_FILE), databaseUrl: config.databaseUrl });
  }
  // several nodes on one PostgreSQL: repository locks span them (SQLite: in-process only)
  const locks = stores instanceof PostgresStores ? stores.locks : null;
  const manager = new RepoManager(storage, {
    pruneExpireMs: config.pruneExpireMs,
    ...(locks && { locker: clusterLocker(locks.writes, storage.root), maintenanceLocker: clusterLocker(locks.maintenance, storage.root) }),
    packRetireGraceMs: config.packRetireGraceMs,
  });
  const guards = openGuardStore(stores, { limit: config.authFailLimit, windowMs: config.authFailWindowMs, banMs: config.authBanMs }, { nodeId: config.nodeId, nodeExpiryMs: config.cluster.nodeExpiryMs });
  const audit = new AuditLog(stores.audit);
  audit.onError = (err) => log.error({ err }, 'could not record an audit event');
  const tokens = new TokenService(stores, {
    bcryptRounds: config.bcryptRounds,
    cacheTtlMs: config.tokenCacheTtlMs,
    audit,
    ttl: { defaultSeconds: config.defaultTokenTtlSeconds, maxSeconds: config.maxTokenTtlSeconds },
  });
  const events = new EventBus(audit, config.eventsPollMs);
  const store = stores.webhooks;
  const policy = new RequestPolicy(config.webhookAllowNetworks);
  // started by startServer: one-shot CLI commands never deliver
  const dispatcher = new WebhookDispatcher({ store, audit, tokens, bus: events, config, policy, log });
  return {
    config,
    stores,
    storage,
    repos: stores.repos,
    tokens,
    manager,
    log,
    audit,
    guards,
    events,
    webhooks: { store, dispatcher, policy },
    async close() {
      events.stop();
      await dispatcher.stop();
      await manager.closeAll();
      await stores.close();
    },
  };
}
