// `gitgate db copy`: every row of a single-node SQLite database into an empty PostgreSQL one
// (tokens with their hashes and scopes, repositories, protected refs, the audit trail with its
// ids, webhooks with their queue, attempts and fan-out cursor), in one transaction.
export const COPIED_TABLES = [
  'repos',
  'tokens',
  'token_repos',
  'protected_refs',
  'audit_events',
  'webhooks',
  'webhook_deliveries',
  'webhook_attempts',
  'webhook_dispatch',
] as const;

export type CopiedTable = (typeof COPIED_TABLES)[number];

/** Rows per table in insertion order (a parent before its children). */
export type TableRows = Record<CopiedTable, Record<string, unknown>[]>;

export function countRows(rows: TableRows): Record<CopiedTable, number> {
  return Object.fromEntries(COPIED_TABLES.map((t) => [t, rows[t].length])) as Record<CopiedTable, number>;
}
