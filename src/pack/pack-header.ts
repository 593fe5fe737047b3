// The 12-byte pack header ("PACK", version, object count) and the 20-byte SHA-1 trailer.

export const PACK_HEADER_LENGTH = 12;
export const PACK_TRAILER_LENGTH = 20;
const SIGNATURE = Buffer.from('PACK', 'latin1');

export function encodePackHeader(count: number, version = 2): Buffer {
  const header = Buffer.alloc(PACK_HEADER_LENGTH);
  SIGNATURE.copy(header, 0);
  header.writeUInt32BE(version, 4);
  header.writeUInt32BE(count, 8);
  return header;
}

/** Parses a pack header; returns a human reason instead when it is not one Git accepts. */
export function parsePackHeader(buf: Buffer): { version: number; count: number } | { problem: string } {
  if (buf.length < PACK_HEADER_LENGTH) return { problem: `header is ${buf.length} bytes, expected ${PACK_HEADER_LENGTH}` };
  if (!buf.subarray(0, 4).equals(SIGNATURE)) return { problem: 'bad signature (not a pack file)' };
  const version = buf.readUInt32BE(4);
  if (version !== 2 && version !== 3) return { problem: `unsupported pack version ${version}` };
  return { version, count: buf.readUInt32BE(8) };
}
