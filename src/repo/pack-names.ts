// Names of the files in objects/pack/: pack-<id>.<ext>.
import path from 'node:path';
import { OID_SOURCE } from '../oid.js';

export const PACK_FILE = new RegExp(`^pack-${OID_SOURCE}\\.pack$`);
export const PACK_KEEP = new RegExp(`^pack-${OID_SOURCE}\\.keep$`);

/** Where a repository's packs (and their .bitmap, .rev companions) live. */
export function packDirOf(gitdir: string): string {
  return path.join(gitdir, 'objects', 'pack');
}
