// releaseOnce: the shared release of counted holds (ObjectStore.pin, PackIndex.holdIds,
// Maintenance.hold): a second call of one release changes nothing.
import { describe, expect, it } from 'vitest';
import { releaseOnce } from '../../src/pack/release-once.js';

describe('releaseOnce', () => {
  it('runs the release on the first call only', () => {
    let released = 0;
    const release = releaseOnce(() => released++);
    release();
    release();
    expect(released).toBe(1);
  });

  it('keeps each hold of a counter to one release (two holds, one released twice: still held once)', () => {
    let holds = 0;
    const hold = () => {
      holds++;
      return releaseOnce(() => holds--);
    };
    const a = hold();
    hold();
    a();
    a();
    expect(holds).toBe(1);
  });
});
