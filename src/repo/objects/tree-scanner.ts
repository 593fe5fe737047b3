// parseTree for reachability walks: entry kinds and id offsets in reused typed arrays.
import { corrupt } from './codec.js';

/** Kinds of tree entries for walks, by their mode exactly as parseTree's users compare it. */
export const TREE_ENTRY_BLOB = 0; // any mode but the two below
export const TREE_ENTRY_TREE = 1; // '40000'
export const TREE_ENTRY_GITLINK = 2; // '160000'

/**
 * parseTree for walks: the kind of each entry and where its 20-byte id sits in the content,
 * in reused typed arrays instead of an object with three strings per entry. Same checks.
 */
export class TreeScanner {
  private kinds = new Uint8Array(64);
  private oids = new Int32Array(64);

  /** Scan `content`; returns the number of entries, then read with kind(i) and oidOffset(i). */
  scan(content: Buffer): number {
    let n = 0;
    let pos = 0;
    while (pos < content.length) {
      const nul = this.entry(content, pos);
      if (n === this.kinds.length) {
        const kinds = new Uint8Array(n * 2);
        kinds.set(this.kinds);
        this.kinds = kinds;
        const oids = new Int32Array(n * 2);
        oids.set(this.oids);
        this.oids = oids;
      }
      this.kinds[n] = this.lastKind;
      this.oids[n] = nul + 1;
      n++;
      pos = nul + 21;
    }
    return n;
  }

  /** The kind of the entry entry() parsed last. */
  lastKind = TREE_ENTRY_BLOB;

  /** Check the one entry starting at `pos`: returns the offset of the NUL ending its name (its id follows); its kind goes to lastKind. */
  entry(content: Buffer, pos: number): number {
    const space = content.indexOf(0x20, pos);
    const nul = space < 0 ? -1 : content.indexOf(0, space + 1);
    if (space <= pos || nul < 0 || nul + 21 > content.length) throw corrupt(`malformed tree entry at offset ${pos}`);
    for (let i = pos; i < space; i++) {
      const c = content[i]!;
      if (c < 0x30 || c > 0x37) throw corrupt(`malformed mode in tree entry at offset ${pos}`);
    }
    const len = space - pos;
    let kind = TREE_ENTRY_BLOB;
    // '40000' and '160000'
    if (len === 5 && content[pos] === 0x34 && content.readUInt32BE(pos + 1) === 0x30303030) kind = TREE_ENTRY_TREE;
    else if (len === 6 && content.readUInt16BE(pos) === 0x3136 && content.readUInt32BE(pos + 2) === 0x30303030) kind = TREE_ENTRY_GITLINK;
    // zero-padded ('040000', pushed when zeroPaddedFilemode is demoted): git goes by the value
    else if (content[pos] === 0x30) kind = kindOfMode(parseInt(content.toString('latin1', pos, space), 8));
    this.lastKind = kind;
    return nul;
  }

  kind(i: number): number {
    return this.kinds[i]!;
  }

  /** Offset of entry i's object id (20 bytes) in the scanned content. */
  oidOffset(i: number): number {
    return this.oids[i]!;
  }
}

function kindOfMode(mode: number): number {
  const type = mode & 0o170000;
  return type === 0o040000 ? TREE_ENTRY_TREE : type === 0o160000 ? TREE_ENTRY_GITLINK : TREE_ENTRY_BLOB;
}
