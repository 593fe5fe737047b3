// Long walks (full-clone plans, bitmap writing, want checks over a whole history) look up most
// of a big pack's objects by id. Past a number of reads, a walk holds its packs' ids in memory
// (PackIndex.holdIds) until it ends; short walks (an incremental fetch) never load them.
import type { ObjectDatabase } from './object-database.js';

/** Reads after which the walk's packs keep their ids in memory. */
export const HOLD_IDS_AFTER = 20_000;
/** Packs smaller than this are cheap to look up through their blocks. */
const MIN_PACK_OBJECTS = 50_000;

export class WalkIds {
  private reads = 0;
  private releases: (() => void)[] | null = null;
  private holding: Promise<void> | null = null;

  constructor(
    private readonly store: ObjectDatabase,
    private readonly after = HOLD_IDS_AFTER,
  ) {}

  /** Count one object read; past the threshold, the packs hold their ids. */
  async read(): Promise<void> {
    if (++this.reads !== this.after) return;
    this.holding = (async () => {
      const packs = await this.store.allPacks();
      this.releases = packs.filter((p) => p.index.count >= MIN_PACK_OBJECTS && !p.closed).map((p) => p.index.holdIds());
    })();
    await this.holding;
  }

  /** The walk is over: the ids may go (call once, in a finally). */
  async release(): Promise<void> {
    await this.holding?.catch(() => undefined);
    for (const r of this.releases ?? []) r();
    this.releases = null;
  }
}
