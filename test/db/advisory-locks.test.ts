// Repository locks across nodes: clusterLocker (repo/repo-lock.ts) over PostgreSQL advisory
// locks (db/postgres/advisory-locks.ts), two "nodes" in this process, each with its own pool of
// one client and its own mount point of the same data directory.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgAdvisoryLocks } from '../../src/db/postgres/advisory-locks.js';
import { createPool } from '../../src/db/postgres/stores.js';
import { isGitgateError } from '../../src/errors.js';
import { clusterLocker, type RepoLocker } from '../../src/repo/repo-lock.js';
import { freshDatabase } from '../helpers/postgres.js';

let db: { url: string; drop: () => Promise<void> };
const locks: PgAdvisoryLocks[] = [];
let a: RepoLocker;
let b: RepoLocker;

/** A promise and the function that settles it. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

beforeAll(async () => {
  db = await freshDatabase();
  for (let i = 0; i < 2; i++) locks.push(new PgAdvisoryLocks(createPool(db.url, { max: 1 })));
  a = clusterLocker(locks[0]!, '/srv/a/data');
  b = clusterLocker(locks[1]!, '/mnt/b/data/'); // another mount of the same directory
});

afterAll(async () => {
  await Promise.all(locks.map((l) => l.close()));
  await db?.drop();
});

describe('clusterLocker over PostgreSQL advisory locks', () => {
  it('orders holders of one repository across nodes', async () => {
    const events: string[] = [];
    const held = gate();
    const entered = gate();
    const first = a.withLock('/srv/a/data/r1.git', async () => {
      events.push('a in');
      entered.open();
      await held.wait;
      events.push('a out');
    });
    await entered.wait;
    const second = b.withLock('/mnt/b/data/r1.git', async () => {
      events.push('b in');
    });
    await new Promise((r) => setTimeout(r, 300)); // time for B to get in, were it not waiting
    events.push('released');
    held.open();
    await Promise.all([first, second]);
    expect(events).toEqual(['a in', 'released', 'a out', 'b in']);
  });

  it('tryLock reports REPO_LOCKED while another node holds the repository, and runs once it is free', async () => {
    const held = gate();
    const entered = gate();
    const holder = a.withLock('/srv/a/data/r2.git', async () => {
      entered.open();
      await held.wait;
    });
    await entered.wait;
    let err: unknown;
    try {
      err = await b.tryLock('/mnt/b/data/r2.git', async () => 'ran').catch((e: unknown) => e);
      expect(await b.tryLock('/mnt/b/data/r3.git', async () => 'another repository')).toBe('another repository');
    } finally {
      held.open(); // a failed check must not leave node A's one client held for the next tests
      await holder;
    }
    expect(isGitgateError(err, 'REPO_LOCKED')).toBe(true);
    expect(await b.tryLock('/mnt/b/data/r2.git', async () => 'free')).toBe('free');
  });

  it('is re-entrant on one node without a second client, and queues in-process waiters without holding one', async () => {
    // each node's pool has one client: a nested acquire, or a waiter holding a client, would never finish
    const nested = await a.withLock('/srv/a/data/r4.git', () => a.withLock('/srv/a/data/r4.git', () => a.tryLock('/srv/a/data/r4.git', async () => 'nested')));
    expect(nested).toBe('nested');
    const order: number[] = [];
    await Promise.all([1, 2, 3].map((i) => a.withLock('/srv/a/data/r4.git', async () => void order.push(i))));
    expect(order).toEqual([1, 2, 3]);
  });

  it('a failing holder releases the lock for the other node', async () => {
    await expect(a.withLock('/srv/a/data/r5.git', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await b.tryLock('/mnt/b/data/r5.git', async () => 'next')).toBe('next');
  });
});
