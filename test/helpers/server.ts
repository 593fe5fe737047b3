// An in-process gitgate on 127.0.0.1:0 over node fs or memfs, with a workspace admin token.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { pino, type Logger } from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/http/server.js';
import { createServices, type Services } from '../../src/service/services.js';
import { gitOk, tmpDir } from './git.js';
import { exportTree, type StorageKind } from './storage.js';

export { STORAGE_KINDS, type StorageKind } from './storage.js';

export interface TestServer {
  kind: StorageKind;
  ctx: Services;
  url: string;
  admin: string;
  dataDir: string;
  http: RunningServer;
  /** supertest agent bound to the running server */
  api: ReturnType<typeof request>;
  /** token URL for git: http://token:SECRET@host/v1/repo/ID.git */
  gitUrl(repo: string, secret: string, user?: string): string;
  createRepo(body?: object): Promise<string>;
  mint(body: object, secret?: string): Promise<{ token: string; id: string }>;
  /** Path to the bare repository on disk (memfs repositories are exported first). */
  bareRepo(id: string): Promise<string>;
  fsck(id: string): Promise<void>;
  close(): Promise<void>;
}

/** `Authorization` header of a bearer token. */
export const bearer = (secret: string) => ({ Authorization: `Bearer ${secret}` });

/**
 * A server for the enclosing describe block: started before its tests (handed to `started`),
 * closed after them.
 */
export function useTestServer(kind: StorageKind, started: (s: TestServer) => void, env: Record<string, string> = {}): void {
  let server: TestServer | undefined;
  beforeAll(async () => {
    server = await startTestServer(kind, env);
    started(server);
  });
  afterAll(async () => {
    await server?.close();
  });
}

/** `opts.dataDir`: start on an existing data directory (a restart); `opts.log`: where logs go. */
export async function startTestServer(kind: StorageKind, env: Record<string, string> = {}, opts: { dataDir?: string; log?: Logger } = {}): Promise<TestServer> {
  const dataDir = opts.dataDir ?? tmpDir('gitgate-data-');
  const config = loadConfig(
    { port: 0, host: '127.0.0.1', data: dataDir, memory: kind === 'memory' },
    { GITGATE_BCRYPT_ROUNDS: '4', ...env },
  );
  const ctx = createServices(config, opts.log ?? pino({ level: 'silent' }));
  const { secret: admin } = await ctx.tokens.create({ kind: 'workspace', permission: 'admin', name: 'test admin' }, null);
  const http = await startServer(ctx, config.host, config.port);
  const api = request(http.url);
  const server: TestServer = {
    kind,
    ctx,
    url: http.url,
    admin,
    dataDir,
    http,
    api,
    gitUrl(repo, secret, user = 'token') {
      const u = new URL(`${http.url}/v1/repo/${repo}.git`);
      u.username = user;
      u.password = secret;
      return u.toString();
    },
    async createRepo(body = {}) {
      const res = await api.post('/v1/repo').set('Authorization', `Bearer ${admin}`).send(body);
      if (res.status !== 201) throw new Error(`create repo failed: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body.repo_id as string;
    },
    async mint(body, secret = admin) {
      const res = await api.post('/v1/repo_token').set('Authorization', `Bearer ${secret}`).send(body);
      if (res.status !== 201) throw new Error(`mint failed: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body as { token: string; id: string };
    },
    async bareRepo(id) {
      // background repacking settles first, so git reads a quiet repository
      await ctx.manager.get(id).maintenance.idle();
      const gitdir = ctx.manager.gitdirOf(id);
      if (kind === 'fs') return gitdir;
      const out = path.join(tmpDir('gitgate-export-'), `${id}.git`);
      await exportTree(ctx.storage, gitdir, out);
      return out;
    },
    async fsck(id) {
      const dir = await server.bareRepo(id);
      await gitOk(['--git-dir', dir, 'fsck', '--full', '--strict', '--no-dangling']);
    },
    async close() {
      await http.close();
      await ctx.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return server;
}

/** Every file of a repository directory with a hash of its content: "nothing changed on disk" is equality. */
export async function diskState(s: TestServer, id: string): Promise<string[]> {
  // a background run started by an earlier write (a roll-up, the prune record) is not a change
  await s.ctx.manager.get(id).maintenance.idle();
  const out: string[] = [];
  const walk = async (dir: string) => {
    for (const name of await s.ctx.storage.readdir(dir)) {
      const p = `${dir}/${name}`;
      const st = await s.ctx.storage.stat(p);
      if (st?.isDirectory()) await walk(p);
      else out.push(`${p} ${crypto.createHash('sha1').update(await s.ctx.storage.readFile(p)).digest('hex')}`);
    }
  };
  await walk(s.ctx.manager.gitdirOf(id));
  return out.sort();
}
