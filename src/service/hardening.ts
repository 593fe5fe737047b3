// The operational parts of a Context: audit trail, failed-auth throttle, per-token
// concurrency, metrics and in-flight activity (created once per process, shared by every app).
import { AuditLog } from '../audit/audit-log.js';
import { AuthThrottle } from '../auth/throttle.js';
import type { Config } from '../config.js';
import type { AuditStore, GuardStore } from '../db/stores.js';
import { Metrics } from '../metrics/metrics.js';
import { Activity } from './activity.js';

export interface Hardening {
  audit: AuditLog;
  throttle: AuthThrottle;
  metrics: Metrics;
  activity: Activity;
  /** Failed-auth counts and requests in flight per token (GITGATE_MAX_CONCURRENT_PER_TOKEN);
   *  shared by every node of a cluster. */
  guards: GuardStore;
  /** Set when shutdown begins: /healthz reports it. */
  shuttingDown: boolean;
}

export function createHardening(config: Config, auditStore: AuditStore, guards: GuardStore): Hardening {
  const throttle = new AuthThrottle({ limit: config.authFailLimit, windowMs: config.authFailWindowMs, banMs: config.authBanMs }, guards);
  const activity = new Activity();
  const metrics = new Metrics();
  metrics.gauge('gitgate_active_clones', 'upload-pack requests (clones and fetches) in progress', () => activity.count('clone'));
  metrics.gauge('gitgate_active_pushes', 'receive-pack requests (pushes) in progress', () => activity.count('push'));
  metrics.gauge('gitgate_http_requests_in_flight', 'HTTP requests in progress', () => activity.count('request'));
  metrics.gauge('gitgate_auth_throttle_tracked_addresses', 'client addresses with recent failed authentications', () => throttle.size);
  metrics.gauge('gitgate_auth_throttle_blocked_addresses', 'client addresses (IPv6: /64 networks) blocked after failed authentications', () => throttle.blocked);
  return { audit: new AuditLog(auditStore), throttle, metrics, activity, guards, shuttingDown: false };
}
