// Prometheus text exposition (format 0.0.4) without a client library: a few counters, gauges
// and one histogram, labelled only by bounded values (method, route template, status), never
// by repository ids or tokens. Below http/ so the core services can count too; GET /metrics
// is http/metrics.ts.
import { redactSecrets } from '../redact.js';

type Labels = Record<string, string>;

const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

function key(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}="${redactSecrets(labels[k]!).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
    .join(',');
}

class Counter {
  readonly values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string) {}
  inc(labels: Labels = {}, by = 1): void {
    const k = key(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  get(labels: Labels = {}): number {
    return this.values.get(key(labels)) ?? 0;
  }
  render(): string[] {
    const out = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    if (this.values.size === 0) out.push(`${this.name} 0`);
    for (const [k, v] of this.values) out.push(`${this.name}${k ? `{${k}}` : ''} ${v}`);
    return out;
  }
}

class Histogram {
  private readonly series = new Map<string, { counts: number[]; sum: number; count: number }>();
  constructor(readonly name: string, readonly help: string, readonly buckets: number[]) {}
  observe(labels: Labels, value: number): void {
    const k = key(labels);
    let s = this.series.get(k);
    if (!s) this.series.set(k, (s = { counts: this.buckets.map(() => 0), sum: 0, count: 0 }));
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) s.counts[i]!++;
    s.sum += value;
    s.count++;
  }
  render(): string[] {
    const out = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [k, s] of this.series) {
      const sep = k ? `${k},` : '';
      this.buckets.forEach((b, i) => out.push(`${this.name}_bucket{${sep}le="${b}"} ${s.counts[i]}`));
      out.push(`${this.name}_bucket{${sep}le="+Inf"} ${s.count}`);
      out.push(`${this.name}_sum${k ? `{${k}}` : ''} ${s.sum}`);
      out.push(`${this.name}_count${k ? `{${k}}` : ''} ${s.count}`);
    }
    return out;
  }
}

export class Metrics {
  readonly requests = new Counter('gitgate_http_requests_total', 'HTTP requests by method, route template and status');
  readonly bytesIn = new Counter('gitgate_http_request_bytes_total', 'Request bytes received (headers and bodies), by route template');
  readonly bytesOut = new Counter('gitgate_http_response_bytes_total', 'Response bytes sent (headers and bodies), by route template');
  readonly duration = new Histogram('gitgate_http_request_duration_seconds', 'Request durations by method and route template', DURATION_BUCKETS);
  readonly authFailures = new Counter('gitgate_auth_failures_total', 'Requests that presented a token which was rejected (malformed, unknown, expired, revoked)');
  readonly throttled = new Counter('gitgate_throttled_total', 'Requests refused with 429, by reason (auth = blocked address, concurrency = per-token limit)');
  readonly maintenance = new Counter(
    'gitgate_maintenance_runs_total',
    "Background maintenance runs (prune, repack, bitmaps) by outcome: done, or skipped (another node held the repository's maintenance lock)",
  );
  /** Live gauges, read at scrape time. */
  readonly gauges: { name: string; help: string; value: () => number }[] = [];

  gauge(name: string, help: string, value: () => number): void {
    this.gauges.push({ name, help, value });
  }

  render(): string {
    const lines = [
      ...this.requests.render(),
      ...this.bytesIn.render(),
      ...this.bytesOut.render(),
      ...this.duration.render(),
      ...this.authFailures.render(),
      ...this.throttled.render(),
      ...this.maintenance.render(),
    ];
    for (const g of this.gauges) lines.push(`# HELP ${g.name} ${g.help}`, `# TYPE ${g.name} gauge`, `${g.name} ${g.value()}`);
    return `${lines.join('\n')}\n`;
  }
}
