// State of a bare repository on disk, cheap enough to take after every case: refs (loose,
// packed, HEAD), the set of object ids (loose + every .idx), and the files under objects/ and
// refs/ with their sizes. Logical state (refs + objects) must not change for a rejected
// request; the file list may change only through the background repack (same objects).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface RepoSnapshot {
  refs: Record<string, string>;
  objects: { count: number; digest: string };
  files: Record<string, number>;
}

const idxCache = new Map<string, string[]>();

function readIdx(file: string, size: number, mtimeMs: number): string[] {
  const key = `${file}:${size}:${mtimeMs}`;
  const hit = idxCache.get(key);
  if (hit) return hit;
  const buf = fs.readFileSync(file);
  const oids: string[] = [];
  if (buf.readUInt32BE(0) === 0xff744f63) {
    const n = buf.readUInt32BE(8 + 255 * 4);
    const base = 8 + 256 * 4;
    for (let i = 0; i < n; i++) oids.push(buf.toString('hex', base + i * 20, base + i * 20 + 20));
  } else {
    const n = buf.readUInt32BE(255 * 4);
    for (let i = 0; i < n; i++) oids.push(buf.toString('hex', 1024 + i * 24 + 4, 1024 + i * 24 + 24));
  }
  idxCache.set(key, oids);
  return oids;
}

function walk(dir: string, rel: string, out: Record<string, number>): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const p = path.join(dir, name);
    const r = rel ? `${rel}/${name}` : name;
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch {
      continue;
    }
    if (st.isDirectory()) walk(p, r, out);
    else out[r] = st.size;
  }
}

function takeOnce(gitdir: string): RepoSnapshot {
  const files: Record<string, number> = {};
  walk(path.join(gitdir, 'objects'), 'objects', files);
  walk(path.join(gitdir, 'refs'), 'refs', files);
  for (const f of ['HEAD', 'packed-refs', 'shallow', 'config']) {
    try {
      files[f] = fs.statSync(path.join(gitdir, f)).size;
    } catch {
      // absent
    }
  }
  const refs: Record<string, string> = {};
  try {
    for (const line of fs.readFileSync(path.join(gitdir, 'packed-refs'), 'utf8').split('\n')) {
      const m = /^([0-9a-f]{40}) (\S+)$/.exec(line);
      if (m) refs[m[2]!] = m[1]!;
    }
  } catch {
    // none
  }
  for (const f of Object.keys(files)) {
    if (!f.startsWith('refs/') || f.endsWith('.lock')) continue;
    try {
      refs[f] = fs.readFileSync(path.join(gitdir, f), 'utf8').trim();
    } catch {
      // raced with a deletion
    }
  }
  try {
    refs.HEAD = fs.readFileSync(path.join(gitdir, 'HEAD'), 'utf8').trim();
  } catch {
    refs.HEAD = '(missing)';
  }
  const oids = new Set<string>();
  for (const f of Object.keys(files)) {
    const m = /^objects\/([0-9a-f]{2})\/([0-9a-f]{38})$/.exec(f);
    if (m) oids.add(m[1]! + m[2]!);
    else if (/^objects\/pack\/pack-[0-9a-f]+\.idx$/.test(f)) {
      const p = path.join(gitdir, f);
      const st = fs.statSync(p);
      for (const o of readIdx(p, st.size, st.mtimeMs)) oids.add(o);
    }
  }
  const sorted = [...oids].sort();
  return {
    refs: Object.fromEntries(Object.entries(refs).sort(([a], [b]) => (a < b ? -1 : 1))),
    objects: { count: sorted.length, digest: createHash('sha1').update(sorted.join('\n')).digest('hex') },
    files,
  };
}

/** A consistent snapshot (retries while a concurrent repack moves files under it). */
export function snapshot(gitdir: string): RepoSnapshot {
  let last: unknown;
  for (let i = 0; i < 5; i++) {
    try {
      return takeOnce(gitdir);
    } catch (err) {
      last = err;
    }
  }
  throw last;
}

export function refsEqual(a: RepoSnapshot, b: RepoSnapshot): boolean {
  return JSON.stringify(a.refs) === JSON.stringify(b.refs);
}

export function objectsEqual(a: RepoSnapshot, b: RepoSnapshot): boolean {
  return a.objects.digest === b.objects.digest;
}

export function filesEqual(a: RepoSnapshot, b: RepoSnapshot): boolean {
  return JSON.stringify(a.files) === JSON.stringify(b.files);
}

/** Temporary and lock files: fine while a request or repack runs, a leak once all is quiet. */
export function strayFiles(s: RepoSnapshot): string[] {
  return Object.keys(s.files).filter((f) => /(^|\/)(tmp_|tmp-|\.tmp)|\.lock$|incoming-|quarantine/.test(f));
}

export function diffRefs(a: RepoSnapshot, b: RepoSnapshot): string[] {
  const out: string[] = [];
  for (const k of new Set([...Object.keys(a.refs), ...Object.keys(b.refs)])) {
    if (a.refs[k] !== b.refs[k]) out.push(`${k}: ${a.refs[k] ?? '(none)'} -> ${b.refs[k] ?? '(none)'}`);
  }
  return out;
}

export function diffFiles(a: RepoSnapshot, b: RepoSnapshot): string[] {
  const out: string[] = [];
  for (const k of new Set([...Object.keys(a.files), ...Object.keys(b.files)])) {
    if (a.files[k] !== b.files[k]) out.push(`${k}: ${a.files[k] ?? '-'} -> ${b.files[k] ?? '-'}`);
  }
  return out;
}
