// The Prometheus metrics of one server, on prom-client: counters, gauges read at scrape time and
// one histogram, labelled only by bounded values (method, route template, status, reason), never
// by repository ids or tokens, and every label value passes through redactSecrets. The
// process_*/nodejs_* defaults sit in one registry per process (they describe the process, and
// their collectors run for its lifetime); each server's registry is merged with it when scraped.
// The registry is created by the HTTP runtime (http/runtime.ts); GET /metrics is http/metrics.ts.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { redactSecrets } from '../redact.js';

const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

type Labels<L extends string> = Partial<Record<L, string>>;

function safe<L extends string>(labels: Labels<L>): Labels<L> {
  const out: Labels<L> = {};
  for (const k of Object.keys(labels).sort() as L[]) out[k] = redactSecrets(labels[k]!);
  return out;
}

class SafeCounter<L extends string> {
  private readonly counter: Counter<L>;
  constructor(registry: Registry, name: string, help: string, labelNames: readonly L[] = []) {
    this.counter = new Counter({ name, help, labelNames, registers: [registry] });
  }
  inc(labels: Labels<L> = {}, by = 1): void {
    this.counter.inc(safe(labels), by);
  }
}

class SafeHistogram<L extends string> {
  private readonly histogram: Histogram<L>;
  constructor(registry: Registry, name: string, help: string, labelNames: readonly L[], buckets: number[]) {
    const histogram = (this.histogram = new Histogram({ name, help, labelNames, buckets, registers: [] }));
    // prom-client writes a bucket's `le` before the series labels; the exposition has always had
    // it last ({method,route,le}), so the registry reads the series through get() with le moved
    const leLast = {
      name,
      get: async () => {
        const data = await histogram.get();
        const values = data.values.map((v) => {
          const { le, ...series } = v.labels as Record<string, string | number>;
          return { ...v, labels: le === undefined ? series : { ...series, le } };
        });
        return { ...data, values };
      },
    };
    registry.registerMetric(leLast as unknown as Histogram<L>);
  }
  observe(labels: Labels<L>, value: number): void {
    this.histogram.observe(safe(labels), value);
  }
}

let processRegistry: Registry | null = null;

/** process_* and nodejs_* (CPU, memory, handles, event-loop lag, GC), collected once per process. */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export class Metrics {
  private readonly registry = new Registry();
  readonly requests = new SafeCounter(this.registry, 'gitgate_http_requests_total', 'HTTP requests by method, route template and status', ['method', 'route', 'status']);
  readonly bytesIn = new SafeCounter(this.registry, 'gitgate_http_request_bytes_total', 'Request bytes received (headers and bodies), by route template', ['route']);
  readonly bytesOut = new SafeCounter(this.registry, 'gitgate_http_response_bytes_total', 'Response bytes sent (headers and bodies), by route template', ['route']);
  readonly duration = new SafeHistogram(this.registry, 'gitgate_http_request_duration_seconds', 'Request durations by method and route template', ['method', 'route'], DURATION_BUCKETS);
  readonly authFailures = new SafeCounter(this.registry, 'gitgate_auth_failures_total', 'Requests that presented a token which was rejected (malformed, unknown, expired, revoked)');
  readonly throttled = new SafeCounter(this.registry, 'gitgate_throttled_total', 'Requests refused with 429, by reason (auth = blocked address, concurrency = per-token limit)', ['reason']);
  readonly maintenance = new SafeCounter(
    this.registry,
    'gitgate_maintenance_runs_total',
    "Background maintenance runs (prune, repack, bitmaps) by outcome: done, or skipped (another node held the repository's maintenance lock)",
    ['outcome'],
  );

  constructor() {
    processMetrics();
    // both reasons are known: a scrape shows them at 0 before the first refusal
    this.throttled.inc({ reason: 'auth' }, 0);
    this.throttled.inc({ reason: 'concurrency' }, 0);
  }

  /** A live gauge, read at scrape time. */
  gauge(name: string, help: string, value: () => number): void {
    new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(value());
      },
    });
  }

  /** The text exposition (format 0.0.4): this server's metrics, then the process's. */
  render(): Promise<string> {
    return Registry.merge([this.registry, processMetrics()]).metrics();
  }
}
