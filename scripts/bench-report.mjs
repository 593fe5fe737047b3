// Turn the runner's results into the Markdown table (stdout) and .bench/last.json.
import fs from 'node:fs';
import { fmtBytes, fmtMs } from './bench-util.mjs';

const esc = (s) => String(s).replace(/\|/g, '\\|').replace(/\s+/g, ' ').slice(0, 160);

/** The cell for one server's result, or the reason there is no number. */
function cell(r, value, fmt, brief) {
  if (!r) return '—';
  if (r.status === 'unsupported') return brief ? 'unsupported' : `unsupported (${esc(r.error)})`;
  if (r.status === 'failed') return brief ? '**FAILED**' : `**FAILED** (${esc(r.error)})`;
  return value == null ? '—' : fmt(value, r);
}

/** Peak memory, with the anonymous (heap, not file-backed) part that cannot be reclaimed. */
const fmtRss = (bytes, r) => (r.rss?.peakAnonKb != null ? `${fmtBytes(bytes)} (anon ${fmtBytes(r.rss.peakAnonKb * 1024)})` : fmtBytes(bytes));

function row(metric, kind, gg, ref, pick, fmt) {
  const a = gg?.status === 'ok' ? pick(gg) : null;
  const b = ref?.status === 'ok' ? pick(ref) : null;
  return {
    metric, kind, gitgate: a, reference: b,
    ratio: a != null && b != null && b > 0 ? a / b : null,
    cells: [cell(gg, a, fmt, kind !== 'time'), cell(ref, b, fmt, kind !== 'time')],
  };
}

/** Build the table rows from scenario results: times, then bytes, then memory. */
export function buildRows(results, { idleRssKb }) {
  const rows = [];
  for (const s of results) rows.push(row(s.label, 'time', s.gitgate, s.reference, (r) => r.medianMs, fmtMs));
  // on a cluster, the nodes' sum, then each node's and the balancer's share (not in the sum)
  const cpuCell = (ms, r) => (r.medianCpuPartsMs ? `${fmtMs(ms)} (${r.medianCpuPartsMs.map(fmtMs).join(' · ')})` : fmtMs(ms));
  for (const s of results) rows.push(row(`server CPU: ${s.label}`, 'cpu', s.gitgate, s.reference, (r) => r.medianCpuMs, cpuCell));
  for (const s of results) {
    if (s.key !== 'swarm') continue;
    rows.push(row(`p95 of one git operation: ${s.label}`, 'time', s.gitgate, s.reference, (r) => r.swarm?.p95Ms, fmtMs));
    rows.push(row(`failed git operations: ${s.label}`, 'count', s.gitgate, s.reference, (r) => r.swarm?.failures, (n) => String(n)));
  }
  for (const s of results) {
    if (!s.wire || s.key.startsWith('push')) continue;
    rows.push(row(`bytes on the wire, server → client: ${s.label}`, 'bytes', s.gitgate, s.reference, (r) => r.wire?.down, fmtBytes));
  }
  for (const s of results) {
    if (!s.key.startsWith('push')) continue;
    rows.push(row(`bytes on the wire, client → server: ${s.label}`, 'bytes', s.gitgate, s.reference, (r) => r.wire?.up, fmtBytes));
  }
  for (const s of results) {
    rows.push(row(`server peak RSS: ${s.label}`, 'rss', s.gitgate, s.reference, (r) => (r.rss?.peakKb ? r.rss.peakKb * 1024 : null), fmtRss));
  }
  if (idleRssKb) {
    rows.push({ metric: 'server RSS at startup (idle)', kind: 'rss', gitgate: idleRssKb * 1024, reference: null, ratio: null,
      cells: [fmtBytes(idleRssKb * 1024), 'n/a (CGI: no resident process)'] });
  }
  return rows;
}

export function renderMarkdown({ rows, header }) {
  const out = [];
  const cluster = header.cluster;
  out.push(`### gitgate${cluster ? ` (${cluster.nodes} node${cluster.nodes > 1 ? 's' : ''}, PostgreSQL, behind a balancer)` : ''} vs git http-backend — medians of ${header.runs} runs`);
  out.push('');
  const repo = header.repo;
  out.push(`Repository: ${repo.external ? `${repo.external}: ` : ''}${repo.commits} commits, `
    + `${repo.external ? '' : `${repo.files} text files, ${repo.bigBlobMb} MiB random blob, `}`
    + `${repo.branches} branches, ${repo.tags} tags, ${repo.objects} objects, pack ${fmtBytes(repo.packBytes)}`
    + `${repo.bitmap ? ' (+ bitmap)' : ''}${repo.external ? '' : `, seed ${repo.seed}`}. `
    + `Machine: ${header.machine.cpus} CPUs, ${header.machine.memGiB} GiB, load average ${header.machine.load ?? '?'} at the start; `
    + `${header.machine.git}; node ${header.machine.node}.`);
  out.push('');
  out.push(`| metric | gitgate${cluster ? ` ×${cluster.nodes}` : ''} | git http-backend | ratio (gitgate/ref) |`);
  out.push('| --- | ---: | ---: | ---: |');
  for (const r of rows) out.push(`| ${r.metric} | ${r.cells[0]} | ${r.cells[1]} | ${r.ratio == null ? '—' : `${r.ratio.toFixed(2)}×`} |`);
  out.push('');
  out.push('Times are wall-clock for the git client command (lower is better); a ratio above 1 means gitgate is slower or larger. '
    + 'Server CPU: user + system time per run from /proc/<pid>/stat — gitgate\'s process; for http-backend every CGI process '
    + 'it ran (the reaped children\'s times), not the harness. '
    + 'Bytes are counted by a TCP proxy (HTTP framing included) on one untimed run. Memory: gitgate\'s process RSS (exact peak, '
    + 'fresh process per scenario); for http-backend the PSS summed over its CGI processes (http-backend, upload-pack, pack-objects, '
    + 'receive-pack …), sampled every 20 ms, so very short-lived processes may be missed. "anon" excludes file-backed pages '
    + '(git mmaps its packs; those pages are reclaimable page cache).');
  if (cluster) {
    out.push('');
    out.push(`gitgate ran as ${cluster.nodes} \`gitgate serve\` node(s) on one data directory and one PostgreSQL database, behind a local `
      + 'least-connections HTTP balancer (per request, streaming; scripts/bench-balancer.mjs); git http-backend was reached directly. '
      + `gitgate's server CPU is the sum over the nodes and the PostgreSQL backends serving them (found by process title on this machine; `
      + `the server's shared writer and checkpointer are not counted), followed in brackets by each part's median (${cluster.parts.join(' · ')}); `
      + 'the balancer (standing in for nginx) is shown but not in the sum. Peak RSS is the sum of the nodes\' peaks (PostgreSQL not included). '
      + 'Wall times include the balancer hop. On a machine with fewer cores than nodes, the nodes share the same CPUs: '
      + 'this shows correctness and overhead, not throughput scaling.');
  }
  return out.join('\n');
}

export function writeJson(file, data) {
  fs.writeFileSync(file, JSON.stringify(data, null, 2) + '\n');
}
