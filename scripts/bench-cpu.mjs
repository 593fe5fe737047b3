// Server CPU time per run, from /proc/<pid>/stat (Linux only).
//
// gitgate: utime + stime of its process (plus cutime + cstime, should it ever run a child).
// git http-backend: the CGI wrapper's cutime + cstime only — the CPU of every CGI process
// (http-backend, upload-pack, pack-objects, receive-pack, index-pack …) once it has been
// reaped, which each parent does for its children down the tree. The wrapper's own CPU (our
// harness, standing in for Apache) is left out. A run is read after its CGI processes have
// all exited, so none is missed.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

let ticksPerSecond = 100;
try { ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100; } catch { /* the usual value */ }

export const cpuSupported = fs.existsSync('/proc/self/stat');

/** { self, children } CPU milliseconds of `pid`, or null if it is gone. */
export function readCpu(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after "(comm)", which may itself hold spaces: state is field 3, utime field 14
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    const ms = (i) => (Number(f[i - 3]) * 1000) / ticksPerSecond;
    return { self: ms(14) + ms(15), children: ms(16) + ms(17) };
  } catch {
    return null;
  }
}

function hasChildren(pid) {
  try {
    return fs.readdirSync(`/proc/${pid}/task`).some((t) => fs.readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim() !== '');
  } catch {
    return false;
  }
}

export class CpuMeter {
  /** includeSelf: count the process's own CPU (gitgate), not only its reaped children's (CGI). */
  constructor(pid, { includeSelf }) {
    this.pid = pid;
    this.includeSelf = includeSelf;
  }

  total() {
    const c = readCpu(this.pid);
    return c ? (this.includeSelf ? c.self : 0) + c.children : 0;
  }

  start() {
    this.t0 = cpuSupported ? this.total() : null;
  }

  /** CPU ms since start(); waits (up to 5 s) for CGI processes still exiting to be reaped. */
  async stop() {
    if (this.t0 == null) return null;
    for (let i = 0; i < 250 && hasChildren(this.pid); i++) await new Promise((r) => setTimeout(r, 20));
    return this.total() - this.t0;
  }
}
