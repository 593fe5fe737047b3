// Loose objects: objects/<2 hex>/<38 hex>, zlib-deflated "<type> <size>\0<content>", the
// format C Git reads and writes. Writes go to a temporary file in the same directory that is
// fsynced and renamed into place, so a reader never sees a partial object.
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { GitgateError } from '../errors.js';
import type { Storage } from './storage.js';
import { isOid } from '../oid.js';
import { hashObject, isObjectType, type ObjectType } from '../pack/types.js';

/** A fan-out directory objects/<2 hex>/ (what else sits in objects/ is info/, pack/ and temporaries). */
export const LOOSE_DIR = /^[0-9a-f]{2}$/;
const LOOSE_FILE = /^[0-9a-f]{38}$/;

const deflate = promisify(zlib.deflate);
const inflate = promisify(zlib.inflate);

export interface LooseObject {
  type: ObjectType;
  content: Buffer;
}

/** Loose object ids (objects/xx/yyyy…), sorted. */
export async function listLoose(storage: Storage, objectsDir: string): Promise<string[]> {
  const out: string[] = [];
  for (const dir of await storage.readdir(objectsDir)) {
    if (!LOOSE_DIR.test(dir)) continue;
    for (const file of await storage.readdir(`${objectsDir}/${dir}`)) {
      if (LOOSE_FILE.test(file)) out.push(dir + file);
    }
  }
  return out.sort();
}

export class LooseObjects {
  readonly objectsDir: string;

  constructor(
    private readonly storage: Storage,
    gitdir: string,
  ) {
    this.objectsDir = `${gitdir}/objects`;
  }

  /** The file of `oid` (which must be a valid lowercase hex id). */
  pathOf(oid: string): string {
    return `${this.objectsDir}/${oid.slice(0, 2)}/${oid.slice(2)}`;
  }

  async has(oid: string): Promise<boolean> {
    if (!isOid(oid)) return false;
    return (await this.storage.stat(this.pathOf(oid)))?.isFile() ?? false;
  }

  /**
   * The object, or null when there is no loose copy. Throws CORRUPT_REPO when the file does not
   * inflate or its header does not match; with `verify` also when its SHA-1 differs from `oid`.
   */
  async read(oid: string, opts: { verify?: boolean } = {}): Promise<LooseObject | null> {
    if (!isOid(oid)) return null;
    const file = await this.storage.readFileOrNull(this.pathOf(oid));
    if (file === null) return null;
    let raw: Buffer;
    try {
      raw = await inflate(file);
    } catch (err) {
      throw new GitgateError('CORRUPT_REPO', { detail: `loose object ${oid} does not inflate` }, { cause: err });
    }
    const obj = parseLoose(raw, oid);
    if (opts.verify && hashObject(obj.type, obj.content).toString('hex') !== oid) {
      throw new GitgateError('CORRUPT_REPO', { detail: `loose object ${oid} hashes to a different id` });
    }
    return obj;
  }

  /** Store an object; returns its id. A no-op when it is already present. */
  async write(type: ObjectType, content: Buffer): Promise<string> {
    const oid = hashObject(type, content).toString('hex');
    if (await this.has(oid)) return oid;
    // level 1 is C Git's core.looseCompression default: loose objects are short-lived
    const data = await deflate(Buffer.concat([Buffer.from(`${type} ${content.length}\0`), content]), { level: 1 });
    const dir = `${this.objectsDir}/${oid.slice(0, 2)}`;
    await this.storage.mkdir(dir);
    // 'tmp_obj_' is the prefix C Git uses, so `git prune` cleans up after a crash
    const tmp = `${dir}/tmp_obj_${this.storage.tempTag()}`;
    const fh = await this.storage.open(tmp, 'wx');
    try {
      try {
        await fh.write(data, 0, data.length, 0);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await this.storage.rename(tmp, this.pathOf(oid));
    } catch (err) {
      await this.storage.unlink(tmp);
      throw err;
    }
    await this.storage.syncDir(dir);
    return oid;
  }
}

function parseLoose(raw: Buffer, oid: string): LooseObject {
  const nul = raw.indexOf(0);
  const header = nul < 0 ? '' : raw.toString('latin1', 0, nul);
  const m = /^([a-z]+) (0|[1-9][0-9]*)$/.exec(header);
  if (!m || !isObjectType(m[1]!)) throw new GitgateError('CORRUPT_REPO', { detail: `loose object ${oid} has a bad header` });
  const content = raw.subarray(nul + 1);
  if (Number(m[2]) !== content.length) {
    throw new GitgateError('CORRUPT_REPO', { detail: `loose object ${oid} has the wrong size` });
  }
  return { type: m[1] as ObjectType, content };
}
