// Everything one gitgate instance needs, wired once, shared by the HTTP server and the CLI.
import { applyCacheBudgets, setBusyCheck } from './cache-budgets.js';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import type { Config } from '../config.js';
import { openStores } from '../db/open.js';
import type { RepoStore, Stores, WebhookStore } from '../db/stores.js';
import { TokenService } from '../auth/token-service.js';
import { RepoManager } from '../repo/repo-manager.js';
import { memoryStorage, nodeStorage, type Storage } from '../repo/storage.js';
import { createHardening, type Hardening } from './hardening.js';
import { prettyDestination } from '../log/pretty.js';
import { ensurePrivateDir } from './data-dir.js';
import { redactSecrets } from '../redact.js';
import { EventBus } from '../events/bus.js';
import { RequestPolicy } from '../net/request-policy.js';
import { WebhookDispatcher } from '../webhooks/dispatcher.js';

export interface Context extends Hardening {
  config: Config;
  /** Tokens, repository records, audit trail, webhooks (db/stores.ts). */
  stores: Stores;
  storage: Storage;
  repos: RepoStore;
  tokens: TokenService;
  manager: RepoManager;
  log: Logger;
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

export function createContext(config: Config, log: Logger = createLogger(config.logLevel, config.logFormat)): Context {
  let storage: Storage;
  let stores: Stores;
  applyCacheBudgets(config.caches);
  if (config.memory) {
    storage = memoryStorage('/data');
    stores = openStores({ sqliteFile: ':memory:', databaseUrl: config.databaseUrl });
  } else {
    ensurePrivateDir(config.dataDir); // 0700: repositories below it need no mode of their own
    storage = nodeStorage(config.dataDir);
    stores = openStores({ sqliteFile: path.join(config.dataDir, DB_FILE), databaseUrl: config.databaseUrl });
  }
  const manager = new RepoManager(storage, { pruneExpireMs: config.pruneExpireMs });
  const hardening = createHardening(config, stores.audit);
  hardening.audit.onError = (err) => log.error({ err }, 'could not record an audit event');
  setBusyCheck(() => hardening.activity.count('request') > 0);
  const tokens = new TokenService(stores, {
    bcryptRounds: config.bcryptRounds,
    cacheTtlMs: config.tokenCacheTtlMs,
    audit: hardening.audit,
    ttl: { defaultSeconds: config.defaultTokenTtlSeconds, maxSeconds: config.maxTokenTtlSeconds },
  });
  const events = new EventBus(hardening.audit, config.eventsPollMs);
  const store = stores.webhooks;
  const policy = new RequestPolicy(config.webhookAllowNetworks);
  // started by startServer: one-shot CLI commands never deliver
  const dispatcher = new WebhookDispatcher({ store, audit: hardening.audit, tokens, bus: events, config, policy, log });
  return {
    ...hardening,
    config,
    stores,
    storage,
    repos: stores.repos,
    tokens,
    manager,
    log,
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
