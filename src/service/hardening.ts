// The operational parts of a Context: audit trail, failed-auth throttle, per-token
// concurrency, metrics and in-flight activity (created once per process, shared by every app).
import { AuditLog } from '../audit/audit-log.js';
import { AuthThrottle } from '../auth/throttle.js';
import type { Config } from '../config.js';
import type { AuditStore } from '../db/stores.js';
import { Metrics } from '../metrics/metrics.js';
import { cachePools } from './cache-budgets.js';
import { Activity } from './activity.js';

export interface Hardening {
  audit: AuditLog;
  throttle: AuthThrottle;
  metrics: Metrics;
  activity: Activity;
  /** Requests in flight per token id (GITGATE_MAX_CONCURRENT_PER_TOKEN). */
  inflightByToken: Map<string, number>;
  /** Set when shutdown begins: /healthz reports it. */
  shuttingDown: boolean;
}

export function createHardening(config: Config, auditStore: AuditStore): Hardening {
  const throttle = new AuthThrottle({ limit: config.authFailLimit, windowMs: config.authFailWindowMs, banMs: config.authBanMs });
  const activity = new Activity();
  const metrics = new Metrics();
  metrics.gauge('gitgate_active_clones', 'upload-pack requests (clones and fetches) in progress', () => activity.count('clone'));
  metrics.gauge('gitgate_active_pushes', 'receive-pack requests (pushes) in progress', () => activity.count('push'));
  metrics.gauge('gitgate_http_requests_in_flight', 'HTTP requests in progress', () => activity.count('request'));
  metrics.gauge('gitgate_auth_throttle_tracked_addresses', 'client addresses with recent failed authentications', () => throttle.size);
  metrics.gauge('gitgate_auth_throttle_blocked_addresses', 'client addresses (IPv6: /64 networks) blocked after failed authentications', () => throttle.blocked);
  // where the process's memory is: V8 heap, buffers outside it, and the byte-bounded caches
  const mem = (key: 'rss' | 'heapUsed' | 'heapTotal' | 'external' | 'arrayBuffers') => () => process.memoryUsage()[key];
  metrics.gauge('gitgate_memory_rss_bytes', 'resident set size of the process', () => process.memoryUsage.rss());
  metrics.gauge('gitgate_memory_heap_used_bytes', 'V8 heap in use', mem('heapUsed'));
  metrics.gauge('gitgate_memory_heap_total_bytes', 'V8 heap reserved', mem('heapTotal'));
  metrics.gauge('gitgate_memory_external_bytes', 'memory of buffers and other objects outside the V8 heap', mem('external'));
  metrics.gauge('gitgate_memory_array_buffers_bytes', 'memory of ArrayBuffers and Buffers (part of external)', mem('arrayBuffers'));
  for (const [name, pools] of cachePools()) {
    metrics.gauge(`gitgate_cache_${name}_bytes`, `bytes held by the ${name.replace('_', ' ')} cache`, () => pools.reduce((n, p) => n + p.total, 0));
  }
  return { audit: new AuditLog(auditStore), throttle, metrics, activity, inflightByToken: new Map(), shuttingDown: false };
}
