// Names of the files in objects/pack/: pack-<id>.<ext>.
import { OID_SOURCE } from '../oid.js';

export const PACK_FILE = new RegExp(`^pack-${OID_SOURCE}\\.pack$`);
export const PACK_KEEP = new RegExp(`^pack-${OID_SOURCE}\\.keep$`);
