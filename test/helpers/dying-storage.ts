// A Storage that "crashes" at its k-th change: that call and every later one that would change
// a file (create, write, fsync, rename, unlink, mkdir, directory fsync) fail with EIO, as
// nothing more reaches the disk after a process dies. Reads keep working (they change nothing).
// Crash tests run an operation once per k until it finishes without dying, then check what a
// fresh instance over the same files sees after recovery.
import type { FileHandleLike, Storage } from '../../src/repo/storage.js';

export interface DyingStorage {
  storage: Storage;
  /** True once the k-th change was refused. */
  readonly died: boolean;
  /** Changes made before the crash (or all of them, when it never came). */
  readonly changes: number;
}

const MUTATING = new Set(['writeFile', 'writeFileAtomic', 'rename', 'unlink', 'mkdir', 'rmrf', 'rmdir', 'syncDir', 'linkOrCopy']);

export function dyingStorage(storage: Storage, k: number): DyingStorage {
  let count = 0;
  let died = false;
  const change = () => {
    if (died || ++count >= k) {
      died = true;
      throw Object.assign(new Error('EIO: the process died here'), { code: 'EIO' });
    }
  };
  const handle = (fh: FileHandleLike): FileHandleLike => ({
    read: fh.read.bind(fh),
    stat: fh.stat.bind(fh),
    close: fh.close.bind(fh),
    write: async (...args: Parameters<FileHandleLike['write']>) => {
      change();
      return fh.write(...args);
    },
    sync: async () => {
      change();
      return fh.sync();
    },
  });
  const wrapped = new Proxy(storage, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      if (prop === 'open') {
        return async (p: string, flags: string) => {
          if (/[wa+]/.test(flags)) change();
          return handle(await target.open(p, flags));
        };
      }
      if (typeof prop === 'string' && MUTATING.has(prop)) {
        return async (...args: unknown[]) => {
          change();
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return value.bind(target);
    },
  });
  return {
    storage: wrapped,
    get died() {
      return died;
    },
    get changes() {
      return died ? count - 1 : count;
    },
  };
}
