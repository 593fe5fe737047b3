// The public shape of a token (everything but its secret hash): §2's listTokens fields. Kept
// by the TokenStore (db/), so defined there.
export type { TokenRecord } from '../db/records.js';
