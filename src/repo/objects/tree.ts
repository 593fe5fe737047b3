// Tree objects: parse and serialize, C Git's entry order and bytes (parse -> serialize round-trips).
import { isUtf8 } from 'node:buffer';
import { isOid } from '../../oid.js';
import { corrupt, invalid } from './codec.js';

export interface TreeEntry {
  mode: string; // as stored: '100644', '100755', '120000', '40000', '160000'
  name: string;
  oid: string;
  /** The name's bytes, set by parseTree only when they are not valid UTF-8 (so `name` is lossy). */
  rawName?: Buffer;
}

export function parseTree(content: Buffer): TreeEntry[] {
  const entries: TreeEntry[] = [];
  let pos = 0;
  while (pos < content.length) {
    const space = content.indexOf(0x20, pos);
    const nul = space < 0 ? -1 : content.indexOf(0, space + 1);
    if (space <= pos || nul < 0 || nul + 21 > content.length) throw corrupt(`malformed tree entry at offset ${pos}`);
    const mode = content.toString('latin1', pos, space);
    if (!/^[0-7]+$/.test(mode)) throw corrupt(`malformed mode in tree entry at offset ${pos}`);
    const nameBytes = content.subarray(space + 1, nul);
    const entry: TreeEntry = { mode, name: nameBytes.toString('utf8'), oid: content.toString('hex', nul + 1, nul + 21) };
    if (!isUtf8(nameBytes)) entry.rawName = Buffer.from(nameBytes);
    entries.push(entry);
    pos = nul + 21;
  }
  return entries;
}

export function serializeTree(entries: TreeEntry[]): Buffer {
  const prepared = entries.map((e) => {
    if (!/^[0-7]+$/.test(e.mode)) throw invalid(`bad tree entry mode ${JSON.stringify(e.mode)}`);
    if (!isOid(e.oid)) throw invalid(`bad tree entry object id ${JSON.stringify(e.oid)}`);
    const name = entryNameBytes(e);
    if (name.length === 0 || name.includes(0) || name.includes(0x2f)) throw invalid(`bad tree entry name ${JSON.stringify(e.name)}`);
    return { mode: e.mode, name, oid: e.oid, dir: isTreeMode(e.mode) };
  });
  prepared.sort((a, b) => compareTreeNames(a.name, a.dir, b.name, b.dir));
  const parts: Buffer[] = [];
  for (const e of prepared) parts.push(Buffer.from(`${e.mode} `), e.name, Buffer.from([0]), Buffer.from(e.oid, 'hex'));
  return Buffer.concat(parts);
}

/** True for tree (directory) modes, written '40000' by git ('040000' by some old tools). */
export function isTreeMode(mode: string): boolean {
  return (parseInt(mode, 8) & 0o170000) === 0o040000;
}

function entryNameBytes(e: TreeEntry): Buffer {
  // rawName wins only while `name` still is its (lossy) decoding, i.e. nobody renamed the entry
  return e.rawName && e.rawName.toString('utf8') === e.name ? e.rawName : Buffer.from(e.name, 'utf8');
}

/** git's base_name_compare: bytewise, with a directory's name compared as if it ended in '/'. */
function compareTreeNames(a: Buffer, aDir: boolean, b: Buffer, bDir: boolean): number {
  const len = Math.min(a.length, b.length);
  const cmp = Buffer.compare(a.subarray(0, len), b.subarray(0, len));
  if (cmp !== 0) return cmp;
  const ca = a.length > len ? a[len]! : aDir ? 0x2f : 0;
  const cb = b.length > len ? b[len]! : bDir ? 0x2f : 0;
  return ca - cb;
}
