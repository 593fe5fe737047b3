// Server memory: peak resident memory of a process tree, read from /proc (Linux only).
//
// gitgate is one process (root included): every 20 ms its VmRSS is sampled, and its VmHWM —
// the kernel's exact high-water mark, reset at the start of the window through
// /proc/<pid>/clear_refs — catches peaks between samples. The peak is max(VmHWM, samples).
//
// git http-backend is a CGI: the Node wrapper (our harness, standing in for Apache) is
// excluded and its children — http-backend, upload-pack, pack-objects, receive-pack,
// index-pack … — are summed every 20 ms. They are summed as PSS (proportional set size, from
// /proc/<pid>/smaps_rollup) so that pages shared between them (the mmapped pack that 32
// concurrent pack-objects all read, libc) count once, not 32 times. Processes that live less
// than 20 ms may be missed.
import fs from 'node:fs';

function readStatus(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name) => Number((s.match(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm')) ?? [])[1] ?? 0);
    return { rss: kb('VmRSS'), anon: kb('RssAnon'), hwm: kb('VmHWM') };
  } catch {
    return null; // exited
  }
}

function readPss(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kb = (name) => Number((s.match(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm')) ?? [])[1] ?? 0);
    return { rss: kb('Pss'), anon: kb('Pss_Anon'), hwm: 0 };
  } catch {
    return null; // exited (or no smaps_rollup: too old a kernel)
  }
}

function children(pid) {
  const out = [];
  let tasks;
  try { tasks = fs.readdirSync(`/proc/${pid}/task`); } catch { return out; }
  for (const t of tasks) {
    try {
      for (const c of fs.readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').split(' ')) if (c.trim()) out.push(Number(c));
    } catch { /* task gone */ }
  }
  return out;
}

function descendants(pid) {
  const all = [];
  const stack = children(pid);
  while (stack.length) {
    const p = stack.pop();
    all.push(p);
    stack.push(...children(p));
  }
  return all;
}

export const rssSupported = fs.existsSync('/proc/self/status');

/** Current RSS of one process in KiB (0 if unknown). */
export function currentRssKb(pid) {
  return readStatus(pid)?.rss ?? 0;
}

export class RssSampler {
  /** pss: sum proportional set sizes (for a tree of many processes sharing pages). */
  constructor(rootPid, { includeRoot, pss = false }) {
    this.root = rootPid;
    this.includeRoot = includeRoot;
    this.read = pss ? readPss : readStatus;
    this.timer = null;
  }

  start() {
    this.peak = 0;
    this.peakAnon = 0;
    this.maxProcs = 0;
    if (!rssSupported) return;
    if (this.includeRoot) {
      try { fs.writeFileSync(`/proc/${this.root}/clear_refs`, '5'); } catch { /* old kernel: sampling only */ }
    }
    this.sample();
    this.timer = setInterval(() => this.sample(), 20);
  }

  sample() {
    const pids = descendants(this.root);
    if (this.includeRoot) pids.push(this.root);
    let rss = 0;
    let anon = 0;
    let n = 0;
    for (const pid of pids) {
      const st = this.read(pid);
      if (!st) continue;
      n++;
      rss += st.rss;
      anon += st.anon;
      this.peak = Math.max(this.peak, st.hwm);
    }
    this.peak = Math.max(this.peak, rss);
    this.peakAnon = Math.max(this.peakAnon, anon);
    this.maxProcs = Math.max(this.maxProcs, n);
  }

  /** Stop; returns { peakKb, peakAnonKb, maxProcs } for the window since start(). */
  stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (rssSupported) this.sample();
    return { peakKb: this.peak, peakAnonKb: this.peakAnon, maxProcs: this.maxProcs };
  }
}
