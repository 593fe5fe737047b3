// Permissions are totally ordered: read < write < admin.
export type Permission = 'read' | 'write' | 'admin';

const RANK: Record<Permission, number> = { read: 0, write: 1, admin: 2 };

export function permissionAtLeast(have: Permission, need: Permission): boolean {
  return RANK[have] >= RANK[need];
}

export function isPermission(value: unknown): value is Permission {
  return typeof value === 'string' && Object.hasOwn(RANK, value);
}
