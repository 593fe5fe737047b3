// One storage interface over a POSIX-like file system. Two implementations: node `fs`
// (production) and memfs (tests, `--memory`). Everything above talks to this, never to `fs`.
import crypto from 'node:crypto';
import nodeFs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { createRequire } from 'node:module';
import type { FileHandleLike, RandomAccessFile } from '../pack/file-handle.js';

export type { FileHandleLike, RandomAccessFile };

export interface StatLike {
  size: number;
  mtimeMs: number;
  /** Inode number, where the file system has one. */
  ino?: number;
  isDirectory(): boolean;
  isFile(): boolean;
}

export interface Storage {
  readonly kind: 'fs' | 'memory';
  /** Absolute root directory (the data dir); repositories live below it. */
  readonly root: string;
  /** The fs module underneath (node fs or a memfs volume): for tests that set file times; gitgate's code uses the methods below. */
  readonly fs: FsModule;
  /** The node id every temporary name written through this storage carries (tempTag). */
  readonly owner: string;

  /** "<random>@<owner>": the unique tail of a temporary name, telling crash recovery whose it is. */
  tempTag(): string;

  readFile(p: string): Promise<Buffer>;
  /** null when the file does not exist. */
  readFileOrNull(p: string): Promise<Buffer | null>;
  writeFile(p: string, data: Buffer | string): Promise<void>;
  /** Write to a temporary sibling, fsync, rename over `p`. */
  writeFileAtomic(p: string, data: Buffer | string): Promise<void>;
  exists(p: string): Promise<boolean>;
  stat(p: string): Promise<StatLike | null>;
  mkdir(p: string): Promise<void>; // recursive, no error if it exists
  readdir(p: string): Promise<string[]>; // [] when missing
  rename(from: string, to: string): Promise<void>;
  unlink(p: string): Promise<void>; // no error if missing
  rmrf(p: string): Promise<void>;
  /** Remove `p` only if it is an empty directory: false when it is not (or is gone), so nothing created meanwhile is lost. */
  rmdir(p: string): Promise<boolean>;
  /** flags as for fs.open: 'r', 'r+', 'w', 'w+', 'wx', 'wx+'. */
  open(p: string, flags: string): Promise<FileHandleLike>;
  /** `p` opened read-only for synchronous reads (pack indexes). */
  openRandomAccess(p: string): Promise<RandomAccessFile>;
  createReadStream(p: string, opts?: { start?: number; end?: number; highWaterMark?: number }): Readable;
  /** fsync a directory so renames inside it are durable (no-op where unsupported). */
  syncDir(p: string): Promise<void>;
  /**
   * Give `to` the bytes of `from` (which must never be modified in place): a hard link on one
   * file system, a copy where linking is impossible (another device, no link support, memfs).
   * Fails with EEXIST when `to` exists and ENOENT when `from` is gone.
   */
  linkOrCopy(from: string, to: string): Promise<'link' | 'copy'>;
}

export type FsModule = typeof nodeFs;

class FsStorage implements Storage {
  constructor(
    readonly kind: 'fs' | 'memory',
    readonly root: string,
    readonly fs: FsModule,
    readonly owner: string,
  ) {
    if (!OWNER.test(owner)) throw new Error(`invalid temporary-file owner ${JSON.stringify(owner)}`);
  }

  tempTag(): string {
    return `${crypto.randomBytes(6).toString('hex')}@${this.owner}`;
  }

  private get p() {
    return this.fs.promises;
  }

  async readFile(p: string): Promise<Buffer> {
    const data: Uint8Array = await this.p.readFile(p);
    // node's fs gives a Buffer of its own (no copy: a .bitmap or .rev is megabytes); others may not
    return Buffer.isBuffer(data) ? data : Buffer.from(data);
  }

  async readFileOrNull(p: string): Promise<Buffer | null> {
    try {
      return await this.readFile(p);
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
  }

  async writeFile(p: string, data: Buffer | string): Promise<void> {
    await this.p.writeFile(p, data);
  }

  async writeFileAtomic(p: string, data: Buffer | string): Promise<void> {
    const tmp = `${p}.tmp-${this.tempTag()}`;
    const fh = await this.p.open(tmp, 'wx');
    try {
      const buf = typeof data === 'string' ? Buffer.from(data) : data;
      await fh.write(buf, 0, buf.length, 0);
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await this.p.rename(tmp, p);
    } catch (err) {
      await this.unlink(tmp);
      throw err;
    }
  }

  async exists(p: string): Promise<boolean> {
    return (await this.stat(p)) !== null;
  }

  async stat(p: string): Promise<StatLike | null> {
    try {
      const s = await this.p.stat(p);
      return { size: Number(s.size), mtimeMs: Number(s.mtimeMs), ino: Number(s.ino), isDirectory: () => s.isDirectory(), isFile: () => s.isFile() };
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
  }

  async mkdir(p: string): Promise<void> {
    await this.p.mkdir(p, { recursive: true });
  }

  async readdir(p: string): Promise<string[]> {
    try {
      return (await this.p.readdir(p)).map(String);
    } catch (err) {
      if (isMissing(err)) return [];
      throw err;
    }
  }

  async rename(from: string, to: string): Promise<void> {
    await this.p.rename(from, to);
  }

  async unlink(p: string): Promise<void> {
    try {
      await this.p.unlink(p);
    } catch (err) {
      if (!isMissing(err)) throw err;
    }
  }

  async rmrf(p: string): Promise<void> {
    await this.p.rm(p, { recursive: true, force: true });
  }

  async rmdir(p: string): Promise<boolean> {
    try {
      await this.fs.promises.rmdir(p);
      return true;
    } catch {
      return false;
    }
  }

  async open(p: string, flags: string): Promise<FileHandleLike> {
    return (await this.p.open(p, flags)) as unknown as FileHandleLike;
  }

  async openRandomAccess(p: string): Promise<RandomAccessFile> {
    const fh = await this.p.open(p, 'r');
    try {
      const { size } = await fh.stat();
      const fs = this.fs;
      return { size, read: (buffer, offset, length, position) => fs.readSync(fh.fd, buffer, offset, length, position), close: () => fh.close() };
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  createReadStream(p: string, opts?: { start?: number; end?: number; highWaterMark?: number }): Readable {
    return this.fs.createReadStream(p, opts) as unknown as Readable;
  }

  async linkOrCopy(from: string, to: string): Promise<'link' | 'copy'> {
    if (this.kind === 'fs') {
      try {
        await this.p.link(from, to);
        return 'link';
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EMLINK') throw err;
      }
    }
    // memfs: a real copy, so the two repositories never share a mutable node
    await this.p.copyFile(from, to, nodeFs.constants.COPYFILE_EXCL);
    return 'copy';
  }

  async syncDir(p: string): Promise<void> {
    if (this.kind === 'memory') return;
    let fh: nodeFs.promises.FileHandle | undefined;
    try {
      fh = await this.p.open(p, 'r');
      await fh.sync();
    } catch {
      // some file systems refuse fsync on directories; the rename is still atomic
    } finally {
      await fh?.close();
    }
  }
}

export function isMissing(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: string }).code === 'ENOENT';
}

/** A node id as config.ts accepts it (GITGATE_NODE_ID): safe in a file name, never containing "@". */
const OWNER = /^[A-Za-z0-9._-]{1,100}$/;

/** Without a node id (one-shot commands, the repack worker's parent passes its own): this process. */
export function defaultOwner(): string {
  return `pid-${process.pid}`;
}

/** Whose temporary file `name` is (the node id after its last "@"), or null for names without one
 *  (written before temporary names carried owners, or by C Git). */
export function tempOwner(name: string): string | null {
  const at = name.lastIndexOf('@');
  if (at < 0) return null;
  const owner = name.slice(at + 1);
  return OWNER.test(owner) ? owner : null;
}

export function nodeStorage(root: string, owner = defaultOwner()): Storage {
  return new FsStorage('fs', path.resolve(root), nodeFs, owner);
}

// memfs is loaded only for in-memory servers and tests: it costs ~10 MB of RSS otherwise.
const requireCjs = createRequire(import.meta.url);

export function memoryStorage(root = '/data', owner = defaultOwner()): Storage {
  const { Volume } = requireCjs('memfs') as typeof import('memfs');
  const vol = new Volume();
  vol.mkdirSync(root, { recursive: true });
  return new FsStorage('memory', root, vol as unknown as FsModule, owner);
}
