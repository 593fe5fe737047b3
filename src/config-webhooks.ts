// Webhook delivery and event feed settings, read from the environment next to the rest of Config
// (src/config.ts spreads them in).
import { GitgateError } from './errors.js';
import { parseNetworks } from './net/address-policy.js';

export interface WebhookConfig {
  /** CIDRs webhook URLs may reach although loopback/private/... (default: the import allow-list). */
  webhookAllowNetworks: string[];
  /** How long a failing delivery is retried, from its first attempt's scheduling. */
  webhookRetryMs: number;
  /** Delay before the first retry; doubled after each failure, capped at webhookBackoffMaxMs. */
  webhookBackoffMs: number;
  webhookBackoffMaxMs: number;
  /** One delivery attempt's limit (connect to end of response). */
  webhookTimeoutMs: number;
  /** Deliveries in flight at once. */
  webhookConcurrency: number;
  /** How often the server looks for events written by another process (the CLI); its own wake feeds at once. */
  eventsPollMs: number;
}

type Env = Record<string, string | undefined>;

function int(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new GitgateError('CONFIG', { detail: `${name} must be an integer between ${min} and ${max}, got ${JSON.stringify(raw)}` });
  }
  return n;
}

export function loadWebhookConfig(env: Env, importAllowNetworks: string[]): WebhookConfig {
  let allow = importAllowNetworks;
  if (env.GITGATE_WEBHOOK_ALLOW_NETWORKS !== undefined) {
    try {
      allow = parseNetworks(env.GITGATE_WEBHOOK_ALLOW_NETWORKS);
    } catch (err) {
      throw new GitgateError('CONFIG', { detail: `GITGATE_WEBHOOK_ALLOW_NETWORKS: ${(err as Error).message}` });
    }
  }
  return {
    webhookAllowNetworks: allow,
    webhookRetryMs: int('GITGATE_WEBHOOK_RETRY_SECONDS', env.GITGATE_WEBHOOK_RETRY_SECONDS, 86_400, 0, 30 * 86_400) * 1000,
    webhookBackoffMs: int('GITGATE_WEBHOOK_BACKOFF_MS', env.GITGATE_WEBHOOK_BACKOFF_MS, 10_000, 1, 86_400_000),
    webhookBackoffMaxMs: int('GITGATE_WEBHOOK_BACKOFF_MAX_MS', env.GITGATE_WEBHOOK_BACKOFF_MAX_MS, 3_600_000, 1, 86_400_000),
    webhookTimeoutMs: int('GITGATE_WEBHOOK_TIMEOUT_SECONDS', env.GITGATE_WEBHOOK_TIMEOUT_SECONDS, 10, 1, 300) * 1000,
    webhookConcurrency: int('GITGATE_WEBHOOK_CONCURRENCY', env.GITGATE_WEBHOOK_CONCURRENCY, 4, 1, 64),
    eventsPollMs: int('GITGATE_EVENTS_POLL_MS', env.GITGATE_EVENTS_POLL_MS, 1000, 10, 3_600_000),
  };
}
