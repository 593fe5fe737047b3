// Builders shared by the auth tests.
import type { Permission } from '../../src/auth/permissions.js';
import type { TokenRecord } from '../../src/auth/token-record.js';

export function record(over: Partial<TokenRecord> & Pick<TokenRecord, 'kind' | 'permission'>): TokenRecord {
  return {
    id: `tok_${over.kind}${over.permission}`.padEnd(20, 'x').slice(0, 20),
    name: 'fixture',
    repo_ids: [],
    refs: [],
    allow_force: true,
    allow_delete: true,
    created_at: '2024-01-01T00:00:00.000Z',
    expires_at: null,
    revoked_at: null,
    last_used_at: null,
    last_used_ip: null,
    created_by: null,
    ...over,
  };
}

export const PERMS: Permission[] = ['read', 'write', 'admin'];
