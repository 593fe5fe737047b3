// Object types, their pack type codes and object hashing, shared by every pack module.
import crypto, { createHash } from 'node:crypto';
import { GitgateError } from '../errors.js';

export type ObjectType = 'commit' | 'tree' | 'blob' | 'tag';

export const OBJECT_TYPES: readonly ObjectType[] = ['commit', 'tree', 'blob', 'tag'];

export function isObjectType(s: string): s is ObjectType {
  return (OBJECT_TYPES as readonly string[]).includes(s);
}

export const OBJ_COMMIT = 1;
export const OBJ_TREE = 2;
export const OBJ_BLOB = 3;
export const OBJ_TAG = 4;
export const OBJ_OFS_DELTA = 6;
export const OBJ_REF_DELTA = 7;

const TYPES_BY_CODE: readonly (ObjectType | undefined)[] = [undefined, 'commit', 'tree', 'blob', 'tag'];
const CODES_BY_TYPE: Record<ObjectType, number> = { commit: OBJ_COMMIT, tree: OBJ_TREE, blob: OBJ_BLOB, tag: OBJ_TAG };

/** The object type of a non-delta pack type code; BAD_PACK for delta or unknown codes. */
export function typeFromCode(code: number): ObjectType {
  const type = TYPES_BY_CODE[code];
  if (type === undefined) throw new GitgateError('BAD_PACK', { detail: `unknown object type code ${code}` });
  return type;
}

export function codeFromType(type: ObjectType): number {
  const code = CODES_BY_TYPE[type];
  if (code === undefined) throw new GitgateError('BAD_PACK', { detail: `unknown object type ${String(type)}` });
  return code;
}

export function isDeltaCode(code: number): boolean {
  return code === OBJ_OFS_DELTA || code === OBJ_REF_DELTA;
}

/** "<type> <size>\0", the prefix Git hashes in front of an object's content. */
export function objectHeader(type: ObjectType, size: number): Buffer {
  return Buffer.from(`${type} ${size}\0`, 'latin1');
}

/** 20-byte SHA-1 object id of "<type> <size>\0<content>". */
export function hashObject(type: ObjectType, content: Buffer): Buffer {
  return createHash('sha1').update(objectHeader(type, content.length)).update(content).digest();
}

/** Length of "<type> <size>\0" for a non-delta type code. */
export function objectHeaderLength(code: number, size: number): number {
  return TYPES_BY_CODE[code]!.length + 2 + String(size).length;
}

/**
 * A buffer holding "<type> <size>\0" followed by room for `size` bytes of content (plus one
 * spare byte for inflateInto), so the object id is one hash call over the front of it
 * (idInto) instead of a hash object per object; the content starts at objectHeaderLength.
 * `reuse`, when large enough, is filled instead of a new allocation.
 */
export function allocObject(code: number, size: number, headerLength = objectHeaderLength(code, size), reuse?: Buffer): Buffer {
  const need = headerLength + size + 1;
  const buf = reuse && reuse.length >= need ? reuse : Buffer.allocUnsafe(need);
  buf.write(`${TYPES_BY_CODE[code]!} ${size}\0`, 0, 'latin1');
  return buf;
}

/** Writes the object id of an allocObject buffer (header and `size` bytes of content) at out[at]. */
export function idInto(object: Buffer, headerLength: number, size: number, out: Buffer, at: number): void {
  const whole = object.length === headerLength + size ? object : object.subarray(0, headerLength + size);
  out.write(crypto.hash('sha1', whole, 'binary'), at, OID_LENGTH, 'latin1');
}

export interface GitObject {
  type: ObjectType;
  content: Buffer;
}

/** Finds an object outside the pack (e.g. the base of a thin pack's ref-delta); null if unknown. */
export type BaseLookup = (oid: Buffer) => Promise<GitObject | null>;

export const OID_LENGTH = 20;
