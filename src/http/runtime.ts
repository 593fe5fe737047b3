// The state of one serving process, beside the core services: the failed-auth throttle,
// per-token in-flight counts, running work (activity), the metrics registry and the shutdown
// flag. Created by whoever serves (startServer, or a test's createApp); the CLI never has one.
import { AuthThrottle } from '../auth/throttle.js';
import type { Config } from '../config.js';
import type { GuardStore } from '../db/stores.js';
import { Metrics } from '../metrics/metrics.js';
import { cachePools, setServerActivity } from '../service/cache-budgets.js';
import { Activity } from './activity.js';

export interface HttpRuntime {
  throttle: AuthThrottle;
  metrics: Metrics;
  activity: Activity;
  /** Set when shutdown begins: /healthz reports it. */
  shuttingDown: boolean;
}

/** `guards`: the services' GuardStore (failed-auth counts, shared by every node of a cluster). */
export function createHttpRuntime(config: Config, guards: GuardStore): HttpRuntime {
  const throttle = new AuthThrottle({ limit: config.authFailLimit, windowMs: config.authFailWindowMs, banMs: config.authBanMs }, guards);
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
  // the idle cache release waits for a quiet process
  setServerActivity({ busy: () => activity.count('request') > 0, quietSince: () => activity.lastEnded('request') });
  return { throttle, metrics, activity, shuttingDown: false };
}
