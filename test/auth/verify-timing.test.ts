// An unknown-but-well-formed token costs the same bcrypt work as a wrong secret for a known
// id (token-service compares against a dummy hash), so response time does not reveal which
// token ids exist. Statistical with generous bounds: medians of interleaved runs, ratio 0.5–2.
import { describe, expect, it } from 'vitest';
import { generateSecret, newTokenId } from '../../src/auth/token-format.js';
import { TokenService } from '../../src/auth/token-service.js';
import { SqliteStores } from '../../src/db/sqlite/stores.js';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

describe('token verification timing', () => {
  it('unknown ids and wrong secrets for known ids take comparable time', async () => {
    const db = new SqliteStores(':memory:');
    const svc = new TokenService(db, { bcryptRounds: 8, cacheTtlMs: 0 });
    const { record } = await svc.create({ kind: 'workspace', name: 'known' }, null);
    // warm up: the dummy hash is computed on first use
    await svc.verify(generateSecret('workspace', newTokenId()));
    await svc.verify(generateSecret('workspace', record.id));
    const unknown: number[] = [];
    const wrong: number[] = [];
    const N = 15;
    for (let i = 0; i < N; i++) {
      // interleaved, so drift in machine load hits both samples alike
      unknown.push(await timed(async () => expect(await svc.verify(generateSecret('workspace', newTokenId()))).toBeNull()));
      wrong.push(await timed(async () => expect(await svc.verify(generateSecret('workspace', record.id))).toBeNull()));
    }
    const ratio = median(unknown) / median(wrong);
    expect(median(wrong)).toBeGreaterThan(1); // bcrypt really ran (cost 8: several ms)
    expect(ratio).toBeGreaterThan(0.5);
    expect(ratio).toBeLessThan(2);
    db.close();
  });
});
