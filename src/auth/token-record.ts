// The public shape of a token (everything but its secret hash): §2's listTokens fields.
import type { Permission } from './permissions.js';
import type { TokenKind } from './token-format.js';

export interface TokenRecord {
  id: string;
  kind: TokenKind;
  permission: Permission;
  name: string;
  repo_ids: string[]; // scope of repo tokens; always [] for workspace tokens
  /** Ref scope: refspec-glob patterns (refs/heads/agent/*) of the refs it may create, update
   *  and delete; [] = every ref. Reads are never restricted. */
  refs: string[];
  /** May make non-fast-forward updates (and move existing tags). */
  allow_force: boolean;
  /** May delete refs. */
  allow_delete: boolean;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
  last_used_ip: string | null;
  created_by: string | null; // id of the minting token; null = operator (CLI, bootstrap)
}
