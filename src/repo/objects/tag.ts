// Annotated tag objects: parse and serialize (C Git's bytes; extra headers and signatures kept).
import { isObjectType } from '../../pack/types.js';
import { isOid } from '../../oid.js';
import { checkIdent, corrupt, invalid, messageBytes, serializeExtraHeaders, splitObject, type ExtraHeader } from './codec.js';

export interface Tag {
  object: string;
  type: string;
  tag: string;
  tagger: string | null; // null for early tags that have no tagger line
  extraHeaders?: ExtraHeader[];
  message: string; // includes a trailing PGP signature, as git stores it
  rawMessage?: Buffer;
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
