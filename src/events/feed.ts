// One page of the event stream for a token: the events after a cursor it may see, and the cursor
// to ask from next (past events it may not see too, so a scoped reader does not rescan them).
import type { AuditLog } from '../audit/audit-log.js';
import type { TokenRecord } from '../auth/token-record.js';
import { toEvent, type GitgateEvent } from './event.js';
import { canSeeEvent, type TokenLookup } from './visibility.js';

const BATCH = 500;
/** Rows one call examines at most: a narrowly scoped reader far behind gets an empty page and a newer cursor. */
const MAX_SCAN = 20_000;

export interface FeedPage {
  items: GitgateEvent[];
  cursor: string;
}

export async function readFeed(audit: AuditLog, viewer: TokenRecord, after: number, limit: number, lookup: TokenLookup): Promise<FeedPage> {
  const items: GitgateEvent[] = [];
  let cursor = after;
  for (let scanned = 0; scanned < MAX_SCAN; ) {
    const rows = await audit.after(cursor, BATCH);
    for (const row of rows) {
      if (await canSeeEvent(viewer, row, lookup)) items.push(toEvent(row));
      cursor = row.id;
      if (items.length >= limit) return { items, cursor: String(cursor) };
    }
    scanned += rows.length;
    if (rows.length < BATCH) break;
  }
  return { items, cursor: String(cursor) };
}
