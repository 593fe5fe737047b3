import { describe, expect, it } from 'vitest';
import { isRepoLocked, repoLockKey, tryRepoLock, withRepoLock } from '../../src/repo/repo-lock.js';
import { isGitgateError } from '../../src/errors.js';

const tick = () => new Promise((r) => setTimeout(r, 1));

describe('withRepoLock', () => {
  it('runs holders of one key one at a time, in arrival order', async () => {
    const events: string[] = [];
    let inside = 0;
    let maxInside = 0;
    const job = (id: number) =>
      withRepoLock('k-order', async () => {
        inside++;
        maxInside = Math.max(maxInside, inside);
        events.push(`start ${id}`);
        await tick();
        events.push(`end ${id}`);
        inside--;
        return id;
      });
    const results = await Promise.all([1, 2, 3, 4, 5].map(job));
    expect(results).toEqual([1, 2, 3, 4, 5]);
    expect(maxInside).toBe(1);
    expect(events).toEqual([1, 2, 3, 4, 5].flatMap((i) => [`start ${i}`, `end ${i}`]));
  });

  it('lets different keys run concurrently', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const a = withRepoLock('k-a', () => gate);
    const b = await withRepoLock('k-b', async () => 'b ran while k-a was held');
    expect(b).toBe('b ran while k-a was held');
    release();
    await a;
  });

  it('releases the lock when the holder throws, and propagates the error', async () => {
    await expect(withRepoLock('k-err', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await withRepoLock('k-err', async () => 'next')).toBe('next');
    expect(isRepoLocked('k-err')).toBe(false);
  });

  it('is re-entrant within one async context instead of deadlocking', async () => {
    const result = await withRepoLock('k-re', async () => {
      await tick();
      return withRepoLock('k-re', async () => 'nested');
    });
    expect(result).toBe('nested');
  });

  it('does not let an unrelated concurrent caller in through re-entrancy', async () => {
    const events: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const first = withRepoLock('k-iso', async () => {
      events.push('first in');
      await gate;
      events.push('first out');
    });
    const second = withRepoLock('k-iso', async () => {
      events.push('second in');
    });
    await tick();
    expect(events).toEqual(['first in']);
    release();
    await Promise.all([first, second]);
    expect(events).toEqual(['first in', 'first out', 'second in']);
  });

  it('forgets keys once idle', async () => {
    await withRepoLock('k-idle', async () => expect(isRepoLocked('k-idle')).toBe(true));
    expect(isRepoLocked('k-idle')).toBe(false);
  });
});

describe('tryRepoLock', () => {
  it('fails fast with REPO_LOCKED (423) while the key is held', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const holder = withRepoLock('k-try', () => gate);
    const err = await tryRepoLock('k-try', async () => 'should not run').catch((e: unknown) => e);
    expect(isGitgateError(err, 'REPO_LOCKED')).toBe(true);
    expect((err as { status: number }).status).toBe(423);
    release();
    await holder;
    expect(await tryRepoLock('k-try', async () => 'free now')).toBe('free now');
  });

  it('succeeds when called by the current holder', async () => {
    expect(await withRepoLock('k-try2', () => tryRepoLock('k-try2', async () => 'ok'))).toBe('ok');
  });
});

describe('repoLockKey', () => {
  it('normalises equivalent spellings of a git directory', () => {
    expect(repoLockKey('/data/a.git/')).toBe(repoLockKey('/data/x/../a.git'));
  });
});
