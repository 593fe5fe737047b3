// The bounded fuzz run of `npm test`: a fixed seed, a few hundred cases against an in-process
// server (clone + fsck checkpoints included), zero failures required. `npm run fuzz` runs
// the long version against `gitgate serve`. The self-check proves the oracles can fail.
import { describe, expect, it } from 'vitest';
import { formatReport, runFuzz } from './runner.js';

const SEED = 20260101;
const CASES = 400;

describe('fuzzer', () => {
  it(`${CASES} seeded cases: no crash, no 5xx, no change on disk, clone and fsck clean`, async () => {
    const lines: string[] = [];
    const report = await runFuzz({
      seed: SEED,
      cases: CASES,
      server: 'in-process',
      checkpointEvery: 100,
      maxBombBytes: 16 * 1024 * 1024,
      timeoutMs: 10_000,
      heavyTimeoutMs: 15_000,
      log: (l) => lines.push(l),
    });
    const summary = formatReport(report);
    expect(report.cases).toBe(CASES);
    expect(report.checkpoints).toBeGreaterThanOrEqual(CASES / 100);
    // the message is the whole summary: failures with their reproducers
    expect(report.failures.length, `${summary}\n\n${lines.slice(-40).join('\n')}`).toBe(0);
  }, 120_000);

  it('self-check: a fake 500, a leaked secret, a change on disk and a cut response are all reported', async () => {
    const report = await runFuzz({
      seed: SEED,
      cases: 12,
      server: 'in-process',
      categories: ['auth', 'info-refs'],
      checkpointEvery: 100,
      faults: { fake500At: [3], leakAt: [5], diskChangeAt: [7], truncateAt: [9] },
    });
    const kinds = report.failures.map((f) => `${f.index}:${f.kind}`);
    expect(kinds).toContain('3:server-error');
    expect(kinds).toContain('5:secret-leak');
    expect(kinds).toContain('7:state-changed');
    expect(kinds).toContain('9:truncated-response');
    // the summary names the failing case so it can be rerun
    expect(formatReport(report)).toContain(`npm run fuzz -- --seed ${SEED} --case 3`);
  }, 60_000);
});
