// Commit objects: parse and serialize (C Git's bytes; extra headers and non-UTF-8 messages kept),
// and the committer time read straight off the header for walks.
import { isOid } from '../../oid.js';
import { checkIdent, corrupt, headerEnd, invalid, messageBytes, serializeExtraHeaders, splitObject, type ExtraHeader } from './codec.js';
import { parseIdent } from './ident.js';

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

/** Committer timestamp (seconds since the epoch) read straight off the header; 0 if absent. */
export function commitTime(content: Buffer): number {
  const end = headerEnd(content);
  const start = content.lastIndexOf('\ncommitter ', end);
  if (start < 0) return 0;
  const lineEnd = content.indexOf(0x0a, start + 1);
  const line = content.toString('utf8', start + 1, lineEnd < 0 || lineEnd > end ? end : lineEnd);
  return parseIdent(line.slice('committer '.length))?.timestamp ?? 0;
}
