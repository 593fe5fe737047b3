// Git object codecs (tree, commit, tag) and fsck-style validation, as pure functions over
// Buffers. Serialisers reproduce C Git's bytes so parse -> serialize round-trips exactly;
// checkObject follows fsck.c in strict mode (what receive.fsckObjects runs) and reports the
// first problem as "<msgId>: <message>" with C Git's message ids.
import { createHash } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import { GitgateError } from '../errors.js';
import { isValidRefName } from './ref-names.js';

export type ObjectType = 'commit' | 'tree' | 'blob' | 'tag';

export const OBJECT_TYPES: readonly ObjectType[] = ['commit', 'tree', 'blob', 'tag'];

/** A 40-digit lowercase hex SHA-1, the only object name form gitgate stores. */
export const OID_PATTERN = /^[0-9a-f]{40}$/;

export function isOid(s: string): boolean {
  return OID_PATTERN.test(s);
}

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

// ---------------------------------------------------------------------------------------------
// fsck

export interface CheckOptions {
  /** fsck message ids to tolerate, e.g. ['badFilemode'] for old repositories with 100664 modes. */
  skip?: readonly string[];
}

/**
 * null when `content` is a well-formed object of `type`, else the first problem as
 * "<msgId>: <message>" (fsck.c ids and wording). Strict mode, as receive.fsckObjects runs it:
 * warnings count; info-level findings (missingTaggerEntry, badTagName, extraHeaderEntry) do not.
 * Stricter than C Git in one point: object ids must be lowercase hex.
 */
export function checkObject(type: ObjectType, content: Buffer, opts: CheckOptions = {}): string | null {
  const skip = new Set(opts.skip ?? []);
  const problems = type === 'tree' ? fsckTree(content) : type === 'commit' ? fsckCommit(content) : type === 'tag' ? fsckTag(content) : [];
  const first = problems.find((p) => !skip.has(p.id));
  return first ? `${first.id}: ${first.message}` : null;
}

interface Problem {
  id: string;
  message: string;
}

const LF = 0x0a;

function problem(id: string, message: string): Problem[] {
  return [{ id, message }];
}

function verifyHeaders(buf: Buffer): Problem[] {
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] === 0) return problem('nulInHeader', `unterminated header: NUL at offset ${i}`);
    if (buf[i] === LF && buf[i + 1] === LF) return [];
  }
  // no blank line: fine as long as the header is complete (a message-less object)
  if (buf.length > 0 && buf[buf.length - 1] === LF) return [];
  return problem('unterminatedHeader', 'unterminated header');
}

/** Reads "<prefix>" at pos; returns the position after it, or -1. */
function skipPrefix(buf: Buffer, pos: number, prefix: string): number {
  if (pos >= buf.length) return -1;
  return buf.toString('latin1', pos, pos + prefix.length) === prefix ? pos + prefix.length : -1;
}

/** True when a 40-digit lowercase hex id followed by LF starts at pos. */
function oidLineAt(buf: Buffer, pos: number): boolean {
  return isOid(buf.toString('latin1', pos, pos + 40)) && buf[pos + 40] === LF;
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39;
}

/** Position of the first of `stops` at or after pos (or buf.length). */
function scanTo(buf: Buffer, pos: number, stops: readonly number[]): number {
  while (pos < buf.length && !stops.includes(buf[pos]!)) pos++;
  return pos;
}

const IDENT_STOPS = [0x3c, 0x3e, LF, 0]; // '<' '>' LF NUL

/** fsck_ident: validates "Name <email> 123 +0000\n" at pos; returns problems and the next line. */
function fsckIdent(buf: Buffer, pos: number): { problems: Problem[]; next: number } {
  const lineEnd = buf.indexOf(LF, pos);
  const next = lineEnd < 0 ? buf.length : lineEnd + 1;
  const fail = (id: string, what: string) => ({ problems: problem(id, `invalid author/committer line - ${what}`), next });
  let p = pos;
  if (buf[p] === 0x3c) return fail('missingNameBeforeEmail', 'missing space before email');
  p = scanTo(buf, p, IDENT_STOPS);
  if (buf[p] === 0x3e) return fail('badName', 'bad name');
  if (buf[p] !== 0x3c) return fail('missingEmail', 'missing email');
  if (buf[p - 1] !== 0x20) return fail('missingSpaceBeforeEmail', 'missing space before email');
  p = scanTo(buf, p + 1, IDENT_STOPS);
  if (buf[p] !== 0x3e) return fail('badEmail', 'bad email');
  p++;
  if (buf[p] !== 0x20) return fail('missingSpaceBeforeDate', 'missing space before date');
  p++;
  while (buf[p] === 0x20 || buf[p] === 0x09) p++;
  if (!isDigit(buf[p])) return fail('badDate', 'bad date');
  if (buf[p] === 0x30 && buf[p + 1] !== 0x20) return fail('zeroPaddedDate', 'zero-padded date');
  let end = p;
  while (isDigit(buf[end])) end++;
  if (BigInt(buf.toString('latin1', p, end)) >= 2n ** 63n) return fail('badDateOverflow', 'date causes integer overflow');
  if (buf[end] !== 0x20) return fail('badDate', 'bad date');
  p = end + 1;
  const sign = buf[p];
  if ((sign !== 0x2b && sign !== 0x2d) || ![1, 2, 3, 4].every((k) => isDigit(buf[p + k])) || buf[p + 5] !== LF) {
    return fail('badTimezone', 'bad time zone');
  }
  return { problems: [], next };
}

function fsckCommit(buf: Buffer): Problem[] {
  const headers = verifyHeaders(buf);
  if (headers.length) return headers;
  let p = skipPrefix(buf, 0, 'tree ');
  if (p < 0) return problem('missingTree', "invalid format - expected 'tree' line");
  if (!oidLineAt(buf, p)) return problem('badTreeSha1', "invalid 'tree' line format - bad sha1");
  p += 41;
  for (let q = skipPrefix(buf, p, 'parent '); q >= 0; q = skipPrefix(buf, p, 'parent ')) {
    if (!oidLineAt(buf, q)) return problem('badParentSha1', "invalid 'parent' line format - bad sha1");
    p = q + 41;
  }
  let authors = 0;
  for (let q = skipPrefix(buf, p, 'author '); q >= 0; q = skipPrefix(buf, p, 'author ')) {
    authors++;
    const ident = fsckIdent(buf, q);
    if (ident.problems.length) return ident.problems;
    p = ident.next;
  }
  if (authors < 1) return problem('missingAuthor', "invalid format - expected 'author' line");
  if (authors > 1) return problem('multipleAuthors', "invalid format - multiple 'author' lines");
  const q = skipPrefix(buf, p, 'committer ');
  if (q < 0) return problem('missingCommitter', "invalid format - expected 'committer' line");
  const ident = fsckIdent(buf, q);
  if (ident.problems.length) return ident.problems;
  if (buf.includes(0)) return problem('nulInCommit', 'NUL byte in the commit object body');
  return [];
}

function fsckTag(buf: Buffer): Problem[] {
  const headers = verifyHeaders(buf);
  if (headers.length) return headers;
  let p = skipPrefix(buf, 0, 'object ');
  if (p < 0) return problem('missingObject', "invalid format - expected 'object' line");
  if (!oidLineAt(buf, p)) return problem('badObjectSha1', "invalid 'object' line format - bad sha1");
  p += 41;
  p = skipPrefix(buf, p, 'type ');
  if (p < 0) return problem('missingTypeEntry', "invalid format - expected 'type' line");
  let eol = buf.indexOf(LF, p);
  if (eol < 0) return problem('missingType', "invalid format - unexpected end after 'type' line");
  if (!isObjectType(buf.toString('latin1', p, eol))) return problem('badType', "invalid 'type' value");
  p = skipPrefix(buf, eol + 1, 'tag ');
  if (p < 0) return problem('missingTagEntry', "invalid format - expected 'tag' line");
  eol = buf.indexOf(LF, p);
  if (eol < 0) return problem('missingTag', "invalid format - unexpected end after 'type' line");
  const found: Problem[] = [];
  const name = buf.toString('utf8', p, eol);
  if (!isValidRefName(`refs/tags/${name}`)) found.push({ id: 'badTagName', message: `invalid 'tag' name: ${name}` });
  p = skipPrefix(buf, eol + 1, 'tagger ');
  if (p < 0) {
    found.push({ id: 'missingTaggerEntry', message: "invalid format - expected 'tagger' line" });
  } else {
    const ident = fsckIdent(buf, p);
    if (ident.problems.length) return ident.problems;
  }
  // badTagName and missingTaggerEntry are info-level in C Git: they never reject an object
  return found.filter((f) => !INFO_LEVEL.has(f.id));
}

const INFO_LEVEL = new Set(['badTagName', 'missingTaggerEntry']);

const VALID_MODES = new Set([0o100644, 0o100755, 0o120000, 0o040000, 0o160000]);

function fsckTree(buf: Buffer): Problem[] {
  const flags = new Set<string>();
  const found: Problem[] = [];
  const names = new Set<string>();
  let prev: { name: Buffer; dir: boolean } | null = null;
  let pos = 0;
  // decode_tree_entry's sanity check: the last entry's name must end 21 bytes before the end
  if (buf.length > 0 && (buf.length < 23 || buf[buf.length - 21] !== 0)) return problem('badTree', 'cannot be parsed as a tree');
  while (pos < buf.length) {
    const space = buf.indexOf(0x20, pos);
    const nul = space < 0 ? -1 : buf.indexOf(0, space + 1);
    if (space <= pos || nul < 0 || nul + 21 > buf.length) return [...found, ...problem('badTree', 'cannot be parsed as a tree')];
    const modeText = buf.toString('latin1', pos, space);
    if (!/^[0-7]+$/.test(modeText)) return [...found, ...problem('badTree', 'cannot be parsed as a tree')];
    const mode = parseInt(modeText, 8);
    const nameBytes = buf.subarray(space + 1, nul);
    const name = nameBytes.toString('utf8');
    const oid = buf.toString('hex', nul + 1, nul + 21);
    const dir = (mode & 0o170000) === 0o040000;
    pos = nul + 21;

    if (/^0+$/.test(oid)) flags.add('nullSha1');
    if (nameBytes.includes(0x2f)) flags.add('fullPathname');
    if (nameBytes.length === 0) flags.add('emptyName');
    if (name === '.') flags.add('hasDot');
    if (name === '..') flags.add('hasDotdot');
    if (isHfsDotGit(name) || isNtfsDotGit(name)) flags.add('hasDotgit');
    if (modeText.startsWith('0')) flags.add('zeroPaddedFilemode');
    const symlink = mode === 0o120000;
    if ((isHfsDotGitmodules(name) || isNtfsDotGitmodules(name)) && symlink) {
      found.push({ id: 'gitmodulesSymlink', message: '.gitmodules is a symbolic link' });
    }
    // Windows treats '\' as a separator, so every backslash-separated tail is checked too
    for (let i = name.indexOf('\\'); i >= 0; i = name.indexOf('\\', i + 1)) {
      const tail = name.slice(i + 1);
      if (isNtfsDotGit(tail)) flags.add('hasDotgit');
      if (isNtfsDotGitmodules(tail) && symlink) found.push({ id: 'gitmodulesSymlink', message: '.gitmodules is a symbolic link' });
    }
    if (!VALID_MODES.has(mode)) flags.add('badFilemode');
    const key = nameBytes.toString('latin1');
    if (names.has(key)) flags.add('duplicateEntries');
    names.add(key);
    if (prev && compareTreeNames(prev.name, prev.dir, nameBytes, dir) >= 0 && !prev.name.equals(nameBytes)) {
      flags.add('treeNotSorted');
    }
    prev = { name: nameBytes, dir };
  }
  for (const [id, message] of TREE_FLAG_MESSAGES) if (flags.has(id)) found.push({ id, message });
  return found;
}

// in the order fsck_tree reports them
const TREE_FLAG_MESSAGES: [string, string][] = [
  ['nullSha1', 'contains entries pointing to null sha1'],
  ['fullPathname', 'contains full pathnames'],
  ['emptyName', 'contains empty pathname'],
  ['hasDot', "contains '.'"],
  ['hasDotdot', "contains '..'"],
  ['hasDotgit', "contains '.git'"],
  ['zeroPaddedFilemode', 'contains zero-padded file modes'],
  ['badFilemode', 'contains bad file modes'],
  ['duplicateEntries', 'contains duplicate file entries'],
  ['treeNotSorted', 'not properly sorted'],
];

// ---------------------------------------------------------------------------------------------
// names that file systems treat as '.git' or '.gitmodules' (path.c, utf8.c)

/** NTFS: '.git' followed only by spaces/periods (or an ADS ':'), or the short name 'git~1'. */
export function isNtfsDotGit(name: string): boolean {
  const lower = asciiLower(name);
  let i: number;
  if (lower.startsWith('.git')) i = 4;
  else if (lower.startsWith('git~1')) i = 5;
  else return false;
  return onlySpacesAndPeriods(name, i, true);
}

export function isNtfsDotGitmodules(name: string): boolean {
  return isNtfsDotGeneric(name, 'gitmodules', 'gi7eba');
}

/** HFS+: '.git' after dropping the code points HFS+ ignores, compared case-insensitively. */
export function isHfsDotGit(name: string): boolean {
  return isHfsDotGeneric(name, 'git');
}

export function isHfsDotGitmodules(name: string): boolean {
  return isHfsDotGeneric(name, 'gitmodules');
}

function onlySpacesAndPeriods(name: string, from: number, separators: boolean): boolean {
  for (let i = from; i < name.length; i++) {
    const c = name[i];
    if (c === ':' || (separators && (c === '/' || c === '\\'))) return true;
    if (c !== ' ' && c !== '.') return false;
  }
  return true;
}

// is_ntfs_dot_generic: '.<needle>', '<first 6 of needle>~1..4', or the 8.3 fallback '<prefix>~N'
function isNtfsDotGeneric(name: string, needle: string, shortPrefix: string): boolean {
  const lower = asciiLower(name);
  if (name[0] === '.' && lower.startsWith(needle, 1)) return onlySpacesAndPeriods(name, needle.length + 1, false);
  if (lower.startsWith(needle.slice(0, 6)) && name[6] === '~' && name[7]! >= '1' && name[7]! <= '4') {
    return onlySpacesAndPeriods(name, 8, false);
  }
  let sawTilde = false;
  for (let i = 0; i < 8; i++) {
    if (i >= name.length) return false;
    const c = name[i]!;
    if (sawTilde) {
      if (c < '0' || c > '9') return false;
    } else if (c === '~') {
      i++;
      if (i >= name.length || name[i]! < '1' || name[i]! > '9') return false;
      sawTilde = true;
    } else if (i >= 6) return false;
    else if (c.charCodeAt(0) > 0x7f) return false;
    else if (asciiLower(c) !== shortPrefix[i]) return false;
  }
  return onlySpacesAndPeriods(name, 8, false);
}

const HFS_IGNORED = (cp: number) =>
  (cp >= 0x200c && cp <= 0x200f) || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x206a && cp <= 0x206f) || cp === 0xfeff;

function isHfsDotGeneric(name: string, needle: string): boolean {
  const chars = [...name].filter((ch) => !HFS_IGNORED(ch.codePointAt(0)!));
  if (chars[0] !== '.') return false;
  for (let i = 0; i < needle.length; i++) {
    const ch = chars[i + 1];
    if (ch === undefined || ch.codePointAt(0)! > 0x7f || asciiLower(ch) !== needle[i]) return false;
  }
  const after = chars[needle.length + 1];
  return after === undefined || after === '/';
}

/** tolower() of the C locale: Unicode case folding must not turn e.g. U+212A (Kelvin) into 'k'. */
function asciiLower(s: string): string {
  return s.replace(/[A-Z]/g, (c) => c.toLowerCase());
}
