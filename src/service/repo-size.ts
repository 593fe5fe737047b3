// How much disk a repository takes: every file under its git directory (packs, loose objects,
// refs), as `du --apparent-size` would count it.
import path from 'node:path';
import type { Storage } from '../repo/storage.js';

export async function repoDiskBytes(storage: Storage, gitdir: string): Promise<number> {
  let total = 0;
  const walk = async (dir: string): Promise<void> => {
    for (const name of await storage.readdir(dir)) {
      const p = path.join(dir, name);
      const st = await storage.stat(p);
      if (!st) continue; // removed meanwhile (a repack, a ref lock)
      if (st.isDirectory()) await walk(p);
      else total += st.size;
    }
  };
  await walk(gitdir);
  return total;
}
