// The two storages every repository test runs over (node fs and memfs, named as
// Storage.kind names them), and walking or exporting files through the Storage interface.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { memoryStorage, nodeStorage, type Storage } from '../../src/repo/storage.js';

export type StorageKind = Storage['kind'];

export const STORAGE_KINDS: StorageKind[] = ['fs', 'memory'];

export interface TestStorage {
  storage: Storage;
  cleanup(): void;
}

export function makeStorage(kind: StorageKind): TestStorage {
  if (kind === 'memory') return { storage: memoryStorage(), cleanup: () => undefined };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitgate-repo-test-'));
  return { storage: nodeStorage(dir), cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Every file below `dir` (absolute paths). */
export async function walkFiles(storage: Storage, dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await storage.readdir(dir)) {
    const p = `${dir}/${entry}`;
    const st = await storage.stat(p);
    if (st?.isDirectory()) out.push(...(await walkFiles(storage, p)));
    else out.push(p);
  }
  return out;
}

/** Copy a directory out of a Storage onto the real disk (so git can read memfs repositories). */
export async function exportTree(storage: Storage, from: string, to: string): Promise<void> {
  fs.mkdirSync(to, { recursive: true });
  for (const name of await storage.readdir(from)) {
    const src = path.join(from, name);
    const dst = path.join(to, name);
    const st = await storage.stat(src);
    if (st?.isDirectory()) await exportTree(storage, src, dst);
    else fs.writeFileSync(dst, await storage.readFile(src));
  }
}
