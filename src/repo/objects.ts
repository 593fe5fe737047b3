// Git object codecs (tree, commit, tag) as pure functions over Buffers. Serialisers reproduce
// C Git's bytes so parse -> serialize round-trips exactly. The checks are in ./fsck/.
import { createHash } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import { GitgateError } from '../errors.js';
import { isOid } from '../oid.js';

export type ObjectType = 'commit' | 'tree' | 'blob' | 'tag';

export const OBJECT_TYPES: readonly ObjectType[] = ['commit', 'tree', 'blob', 'tag'];

export function isObjectType(s: string): s is ObjectType {
  return (OBJECT_TYPES as readonly string[]).includes(s);
}

/** The object id: SHA-1 of "<type> <size>\0" followed by the content. */
export function hashObject(type: ObjectType, content: Buffer): string {
  return createHash('sha1').update(`${type} ${content.length}\0`).update(content).digest('hex');
}

// ---------------------------------------------------------------------------------------------
// trees

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
      const space = content.indexOf(0x20, pos);
      const nul = space < 0 ? -1 : content.indexOf(0, space + 1);
      if (space <= pos || nul < 0 || nul + 21 > content.length) throw corrupt(`malformed tree entry at offset ${pos}`);
      for (let i = pos; i < space; i++) {
        const c = content[i]!;
        if (c < 0x30 || c > 0x37) throw corrupt(`malformed mode in tree entry at offset ${pos}`);
      }
      if (n === this.kinds.length) {
        const kinds = new Uint8Array(n * 2);
        kinds.set(this.kinds);
        this.kinds = kinds;
        const oids = new Int32Array(n * 2);
        oids.set(this.oids);
        this.oids = oids;
      }
      const len = space - pos;
      let kind = TREE_ENTRY_BLOB;
      // '40000' and '160000'
      if (len === 5 && content[pos] === 0x34 && content.readUInt32BE(pos + 1) === 0x30303030) kind = TREE_ENTRY_TREE;
      else if (len === 6 && content.readUInt16BE(pos) === 0x3136 && content.readUInt32BE(pos + 2) === 0x30303030) kind = TREE_ENTRY_GITLINK;
      // zero-padded ('040000', pushed when zeroPaddedFilemode is demoted): git goes by the value
      else if (content[pos] === 0x30) kind = kindOfMode(parseInt(content.toString('latin1', pos, space), 8));
      this.kinds[n] = kind;
      this.oids[n] = nul + 1;
      n++;
      pos = nul + 21;
    }
    return n;
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

// ---------------------------------------------------------------------------------------------
// commits and tags

export interface ExtraHeader {
  name: string;
  /** Multi-line values (gpgsig, mergetag) joined with '\n', without the continuation spaces. */
  value: string;
}

export interface Commit {
  tree: string;
  parents: string[];
  author: string; // "Name <email> 1700000000 +0100"
  committer: string;
  /** Headers other than tree/parent/author/committer (encoding, gpgsig, mergetag, ...), in order. */
  extraHeaders?: ExtraHeader[];
  message: string;
  /** Message bytes, set by the parser only when they are not valid UTF-8 (e.g. `encoding latin1`). */
  rawMessage?: Buffer;
}

export interface Tag {
  object: string;
  type: string;
  tag: string;
  tagger: string | null; // null for early tags that have no tagger line
  extraHeaders?: ExtraHeader[];
  message: string; // includes a trailing PGP signature, as git stores it
  rawMessage?: Buffer;
}

export function parseCommit(content: Buffer): Commit {
  const { headers, message, rawMessage } = splitObject(content);
  const commit: Commit = { tree: '', parents: [], author: '', committer: '', extraHeaders: [], message };
  if (rawMessage) commit.rawMessage = rawMessage;
  let seenTree = false;
  for (const h of headers) {
    if (h.name === 'tree' && !seenTree) {
      commit.tree = h.value;
      seenTree = true;
    } else if (h.name === 'parent' && commit.author === '') commit.parents.push(h.value);
    else if (h.name === 'author' && commit.author === '') commit.author = h.value;
    else if (h.name === 'committer' && commit.committer === '') commit.committer = h.value;
    else commit.extraHeaders!.push(h);
  }
  if (!isOid(commit.tree)) throw corrupt('commit has no valid tree line');
  return commit;
}

export function serializeCommit(c: Commit): Buffer {
  if (!isOid(c.tree)) throw invalid(`bad commit tree ${JSON.stringify(c.tree)}`);
  for (const p of c.parents) if (!isOid(p)) throw invalid(`bad commit parent ${JSON.stringify(p)}`);
  checkIdent('author', c.author);
  checkIdent('committer', c.committer);
  let head = `tree ${c.tree}\n`;
  for (const p of c.parents) head += `parent ${p}\n`;
  head += `author ${c.author}\ncommitter ${c.committer}\n`;
  head += serializeExtraHeaders(c.extraHeaders);
  return Buffer.concat([Buffer.from(head + '\n'), messageBytes(c)]);
}

export function parseTag(content: Buffer): Tag {
  const { headers, message, rawMessage } = splitObject(content);
  const tag: Tag = { object: '', type: '', tag: '', tagger: null, extraHeaders: [], message };
  if (rawMessage) tag.rawMessage = rawMessage;
  for (const h of headers) {
    if (h.name === 'object' && tag.object === '') tag.object = h.value;
    else if (h.name === 'type' && tag.type === '') tag.type = h.value;
    else if (h.name === 'tag' && tag.tag === '') tag.tag = h.value;
    else if (h.name === 'tagger' && tag.tagger === null) tag.tagger = h.value;
    else tag.extraHeaders!.push(h);
  }
  if (!isOid(tag.object)) throw corrupt('tag has no valid object line');
  return tag;
}

export function serializeTag(t: Tag): Buffer {
  if (!isOid(t.object)) throw invalid(`bad tag object ${JSON.stringify(t.object)}`);
  if (!isObjectType(t.type)) throw invalid(`bad tag type ${JSON.stringify(t.type)}`);
  if (t.tag === '' || t.tag.includes('\n')) throw invalid(`bad tag name ${JSON.stringify(t.tag)}`);
  let head = `object ${t.object}\ntype ${t.type}\ntag ${t.tag}\n`;
  if (t.tagger !== null) {
    checkIdent('tagger', t.tagger);
    head += `tagger ${t.tagger}\n`;
  }
  head += serializeExtraHeaders(t.extraHeaders);
  return Buffer.concat([Buffer.from(head + '\n'), messageBytes(t)]);
}

/** Committer timestamp (seconds since the epoch) read straight off the header; 0 if absent. */
export function commitTime(content: Buffer): number {
  const end = headerEnd(content);
  const start = content.lastIndexOf('\ncommitter ', end);
  if (start < 0) return 0;
  const lineEnd = content.indexOf(0x0a, start + 1);
  const line = content.toString('utf8', start + 1, lineEnd < 0 || lineEnd > end ? end : lineEnd);
  return parseIdent(line.slice('committer '.length))?.timestamp ?? 0;
}

export interface Ident {
  name: string;
  email: string;
  timestamp: number; // seconds
  timezone: string; // '+0100'
}

/** Split "Name <email> 1700000000 +0100"; null when it does not have that shape. */
export function parseIdent(ident: string): Ident | null {
  const m = /^(.*?) ?<([^<>]*)> +(\d+) ([+-]\d{4})$/.exec(ident);
  if (!m) return null;
  return { name: m[1]!, email: m[2]!, timestamp: Number(m[3]), timezone: m[4]! };
}

/** Objects an object points at, for connectivity walks. Gitlinks (submodule commits) are skipped. */
export function referencedOids(type: ObjectType, content: Buffer): { oid: string; type?: ObjectType }[] {
  switch (type) {
    case 'blob':
      return [];
    case 'tree':
      return parseTree(content)
        .filter((e) => parseInt(e.mode, 8) !== 0o160000)
        .map((e) => ({ oid: e.oid, type: isTreeMode(e.mode) ? ('tree' as const) : ('blob' as const) }));
    case 'commit': {
      const c = parseCommit(content);
      return [{ oid: c.tree, type: 'tree' as const }, ...c.parents.map((oid) => ({ oid, type: 'commit' as const }))];
    }
    case 'tag': {
      const t = parseTag(content);
      return [isObjectType(t.type) ? { oid: t.object, type: t.type } : { oid: t.object }];
    }
  }
}

/** Index of the blank line ending the header (or the content length when there is none). */
function headerEnd(content: Buffer): number {
  const i = content.indexOf('\n\n');
  return i < 0 ? content.length : i;
}

function splitObject(content: Buffer): { headers: ExtraHeader[]; message: string; rawMessage?: Buffer } {
  const sep = content.indexOf('\n\n');
  const headerText = content.toString('utf8', 0, sep < 0 ? content.length : sep);
  const headers: ExtraHeader[] = [];
  for (const line of headerText.split('\n')) {
    if (line === '' && sep < 0) continue; // trailing newline of a message-less object
    if (line.startsWith(' ') && headers.length > 0) {
      headers[headers.length - 1]!.value += '\n' + line.slice(1);
      continue;
    }
    const space = line.indexOf(' ');
    headers.push(space < 0 ? { name: line, value: '' } : { name: line.slice(0, space), value: line.slice(space + 1) });
  }
  if (sep < 0) return { headers, message: '' };
  const body = content.subarray(sep + 2);
  const message = body.toString('utf8');
  return isUtf8(body) ? { headers, message } : { headers, message, rawMessage: Buffer.from(body) };
}

function serializeExtraHeaders(headers: ExtraHeader[] | undefined): string {
  let out = '';
  for (const h of headers ?? []) {
    if (!/^[^\s]+$/.test(h.name)) throw invalid(`bad header name ${JSON.stringify(h.name)}`);
    out += `${h.name} ${h.value.replace(/\n/g, '\n ')}\n`;
  }
  return out;
}

function messageBytes(o: { message: string; rawMessage?: Buffer }): Buffer {
  return o.rawMessage && o.rawMessage.toString('utf8') === o.message ? o.rawMessage : Buffer.from(o.message, 'utf8');
}

function checkIdent(what: string, ident: string): void {
  if (ident.includes('\n') || ident.includes('\0')) throw invalid(`bad ${what} ${JSON.stringify(ident)}`);
}

function corrupt(detail: string): GitgateError {
  return new GitgateError('CORRUPT_REPO', { detail });
}

function invalid(detail: string): GitgateError {
  return new GitgateError('VALIDATION', { detail });
}
