// The check thread's side of CheckThread: ObjectChecks over the batches it is sent, reports
// and a refusal posted back as they happen, what it collected posted at the end.
import { parentPort, workerData } from 'node:worker_threads';
import { isGitgateError } from '../errors.js';
import type { FsckPolicy } from './fsck/index.js';
import type { FromCheckWorker, ToCheckWorker } from './check-thread.js';
import { ObjectChecks } from './object-checks.js';

const port = parentPort!;
const data = workerData as { shallow: string[]; fsck?: FsckPolicy };
const post = (msg: FromCheckWorker, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);
const checks = new ObjectChecks({ shallow: new Set(data.shallow), fsck: data.fsck, onReport: (line) => post({ type: 'report', line }) });
let refused = false;

port.on('message', (msg: ToCheckWorker) => {
  if (msg.type === 'end') {
    if (refused) return;
    const state = checks.state();
    post({ type: 'state', state }, [state.wanted.buffer as ArrayBuffer, state.referrer.buffer as ArrayBuffer, state.boundaryIds.buffer as ArrayBuffer]);
    return;
  }
  const b = Buffer.from(msg.buffer, 0, msg.length);
  try {
    for (let at = 0; !refused && at < b.length; ) {
      const i = b.readUInt32LE(at);
      const code = b[at + 4]!;
      const size = b.readUInt32LE(at + 5);
      const oid = b.subarray(at + 9, at + 29);
      at += 29;
      checks.check(i, oid, code, b.subarray(at, at + size));
      at += size;
    }
  } catch (err) {
    refused = true;
    if (isGitgateError(err)) post({ type: 'refused', code: err.code, params: err.params });
    else post({ type: 'failed', message: (err as Error).message });
  }
  post({ type: 'done', buffer: msg.buffer }, [msg.buffer]);
});
