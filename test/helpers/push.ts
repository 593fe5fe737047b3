// Helpers for push tests: crafted receive-pack requests, packs built with the git CLI, and
// checks that a repository holds no leftovers (temporary files, locks) and the refs we expect.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { FLUSH, PktLineReader, pktText, pktToText } from '../../src/protocol/pkt-line.js';
import { parseReportStatus, type StatusReport } from '../../src/protocol/report-status.js';
import { binary } from './binary.js';
import { walkFiles } from './storage.js';
import { git, gitBytes, gitOk, tmpDir } from './git.js';
import type { TestServer } from './server.js';

export { ZERO_OID as ZERO } from '../../src/oid.js';

export interface RawCommand {
  old: string;
  new: string;
  ref: string;
}

export interface RawPushResult {
  status: number;
  /** The raw body (text/plain errors, or pkt-lines). */
  body: Buffer;
  /** Parsed report-status, when the response had one. */
  report: StatusReport | null;
  /** Side-band 2 text (what git shows as "remote: …"). */
  progress: string;
}

export interface RawPushOptions {
  caps?: string[];
  pushOptions?: string[];
  gzip?: boolean;
}

export const DEFAULT_CAPS = ['report-status', 'side-band-64k', 'agent=test'];

/** The body of a receive-pack request: commands (caps on the first), flush, push options, pack. */
export function receiveRequest(commands: RawCommand[], pack: Buffer | null, opts: RawPushOptions = {}): Buffer {
  const caps = (opts.caps ?? DEFAULT_CAPS).join(' ');
  const parts: Buffer[] = commands.map((c, i) => pktText(`${c.old} ${c.new} ${c.ref}${i === 0 ? `\0${caps}` : ''}`));
  parts.push(FLUSH);
  if (opts.pushOptions) {
    for (const o of opts.pushOptions) parts.push(pktText(o));
    parts.push(FLUSH);
  }
  if (pack) parts.push(pack);
  return Buffer.concat(parts);
}

/** POST a crafted receive-pack request and decode the answer. */
export async function rawPush(s: TestServer, repo: string, body: Buffer, opts: RawPushOptions = {}): Promise<RawPushResult> {
  let req = s.api
    .post(`/v1/repo/${repo}.git/git-receive-pack`)
    .set('Authorization', `Bearer ${s.admin}`)
    .set('Content-Type', 'application/x-git-receive-pack-request');
  if (opts.gzip) req = req.set('Content-Encoding', 'gzip');
  const res = await req.send(opts.gzip ? zlib.gzipSync(body) : body).buffer(true).parse(binary);
  const out: RawPushResult = { status: res.status, body: res.body as Buffer, report: null, progress: '' };
  if (res.status === 200 && out.body.length > 0) {
    const { data, progress } = await demux(out.body);
    out.progress = progress;
    out.report = await parseReportStatus(data);
  }
  return out;
}

/** Split a side-band response into band 1 (bytes) and band 2 (text). */
export async function demux(body: Buffer): Promise<{ data: Buffer; progress: string }> {
  const reader = new PktLineReader([body]);
  const data: Buffer[] = [];
  let progress = '';
  for (;;) {
    const pkt = await reader.read();
    if (!pkt || pkt.type === 'flush') break;
    if (pkt.type !== 'data') continue;
    const band = pkt.payload[0];
    if (band === 1) data.push(pkt.payload.subarray(1));
    else if (band === 2) progress += pkt.payload.subarray(1).toString();
    else if (band === 3) progress += `fatal: ${pkt.payload.subarray(1).toString()}`;
    else return { data: body, progress: pktToText(pkt.payload) }; // not multiplexed
  }
  return { data: Buffer.concat(data), progress };
}

/** A scratch (non-bare) repository with a deterministic identity. */
export async function scratchRepo(branch = 'main'): Promise<string> {
  const dir = path.join(tmpDir('gitgate-scratch-'), 'w');
  await gitOk(['init', '-q', '-b', branch, dir]);
  return dir;
}

/** `git pack-objects --stdout` for the given revisions (e.g. ['new', '^old']). */
export async function packRevs(cwd: string, revs: string[], opts: { thin?: boolean } = {}): Promise<Buffer> {
  const args = ['pack-objects', '--stdout', '--revs', '-q'];
  if (opts.thin) args.push('--thin');
  const r = await gitBuffer(args, cwd, `${revs.join('\n')}\n`);
  return r;
}

/** `git pack-objects --stdout` of exactly these objects. */
export async function packObjects(cwd: string, oids: string[]): Promise<Buffer> {
  return gitBuffer(['pack-objects', '--stdout', '-q'], cwd, oids.length ? `${oids.join('\n')}\n` : '');
}

async function gitBuffer(args: string[], cwd: string, input: string): Promise<Buffer> {
  const r = await gitBytes(args, { cwd, input });
  if (r.code !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

export async function rev(cwd: string, what: string): Promise<string> {
  return (await gitOk(['rev-parse', what], { cwd })).trim();
}

/** Temporary files, lock files and half-installed packs anywhere in the repository. */
export async function leftovers(s: TestServer, repo: string): Promise<string[]> {
  await s.ctx.manager.get(repo).maintenance.idle(); // a background repack mid-way is not a leftover
  const gitdir = s.ctx.manager.gitdirOf(repo);
  const files = (await walkFiles(s.ctx.storage, gitdir)).map((f) => path.relative(gitdir, f));
  const packs = new Set(files.filter((f) => f.startsWith('objects/pack/')));
  return files.filter((f) => {
    const name = path.basename(f);
    if (/^tmp_|\.lock$|\.tmp-/.test(name)) return true;
    if (/^pack-[0-9a-f]{40}\.pack$/.test(name) && !packs.has(f.replace(/\.pack$/, '.idx'))) return true;
    if (/^pack-[0-9a-f]{40}\.idx$/.test(name) && !packs.has(f.replace(/\.idx$/, '.pack'))) return true;
    return false;
  });
}

/** The repository's refs as "<oid> <name>" lines, read by gitgate. */
export async function refLines(s: TestServer, repo: string): Promise<string> {
  const refs = await s.ctx.manager.get(repo).refs.list('refs/');
  return refs.map((r) => `${r.oid} ${r.name}`).join('\n');
}

/** One ref's value as another client sees it (ls-remote), or null. */
export async function remoteRef(url: string, ref: string): Promise<string | null> {
  const out = await gitOk(['ls-remote', url, ref]);
  const line = out.split('\n').find((l) => l.endsWith(`\t${ref}`));
  return line ? line.split('\t')[0]! : null;
}

/** Build `count` commits on top of `parent` (or a root) with one `git fast-import`; returns the tip. */
export async function fastImportCommits(cwd: string, ref: string, count: number, opts: { parent?: string; files?: number } = {}): Promise<string> {
  const files = opts.files ?? 3;
  const lines: string[] = [];
  for (let i = 1; i <= count; i++) {
    lines.push(`commit ${ref}`, `mark :${i}`, `committer Test User <test@example.com> ${1_700_000_000 + i} +0000`);
    const msg = `commit ${i}\n`;
    lines.push(`data ${Buffer.byteLength(msg)}`, msg.slice(0, -1));
    if (i === 1 && opts.parent) lines.push(`from ${opts.parent}`);
    for (let f = 0; f < files; f++) {
      if (i > 1 && (i + f) % files !== 0) continue; // each commit edits one file
      const content = `file ${f}\n${'line of text that stays the same\n'.repeat(20)}version ${i}\n`;
      lines.push(`M 100644 inline dir${f % 2}/file${f}.txt`, `data ${Buffer.byteLength(content)}`, content);
    }
    lines.push('');
  }
  const r = await git(['fast-import', '--quiet'], { cwd, input: `${lines.join('\n')}\n` });
  if (r.code !== 0) throw new Error(`fast-import failed: ${r.stderr}`);
  return (await gitOk(['rev-parse', ref], { cwd })).trim();
}

/** A file of `bytes` random bytes. */
export function randomFile(file: string, bytes: number): void {
  const fd = fs.openSync(file, 'w');
  for (let left = bytes; left > 0; left -= 1 << 20) fs.writeSync(fd, crypto.randomBytes(Math.min(left, 1 << 20)));
  fs.closeSync(fd);
}
