// Structured request logs: one JSON line per request with id, method, route, repository id,
// token id, status, bytes and duration — and never a token secret, not even one in a URL path.
import fs from 'node:fs';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/http/server.js';
import { createContext, type Context } from '../../src/service/context.js';
import { commitFiles, gitOk, tmpDir } from '../helpers/git.js';

interface LogLine {
  msg: string;
  req_id?: string;
  method?: string;
  route?: string;
  url?: string;
  status?: number;
  token_id?: string;
  repo_id?: string;
  bytes_in?: number;
  bytes_out?: number;
  ms?: number;
  ip?: string;
}

describe('request logs', () => {
  const chunks: string[] = [];
  let ctx: Context;
  let http: RunningServer;
  let dataDir: string;
  const lines = (): LogLine[] =>
    chunks
      .join('')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as LogLine);

  beforeAll(async () => {
    dataDir = tmpDir('gitgate-logs-');
    const sink = new Writable({
      write(chunk, _enc, cb) {
        chunks.push(chunk.toString());
        cb();
      },
    });
    const config = loadConfig({ port: 0, host: '127.0.0.1', data: dataDir }, { GITGATE_BCRYPT_ROUNDS: '4' });
    ctx = createContext(config, pino({ level: 'debug' }, sink));
    http = await startServer(ctx, config.host, config.port);
  });
  afterAll(async () => {
    await http.close();
    await ctx.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('a clone, a push and DELETE /v1/repo_token/<secret> log no secret', async () => {
    const { secret: admin } = await ctx.tokens.create({ kind: 'workspace', permission: 'admin', name: 'admin' }, null);
    const api = request(http.url);
    const created = await api.post('/v1/repo').set('Authorization', `Bearer ${admin}`).send({ source: { type: 'files', files: [{ filename: 'a.txt', content: 'a\n' }] } });
    expect(created.status).toBe(201);
    const repo = created.body.repo_id as string;
    const minted = await api.post('/v1/repo_token').set('Authorization', `Bearer ${admin}`).send({ repo_ids: [repo], permission: 'write' });
    const agent = minted.body.token as string;
    const agentId = minted.body.id as string;
    const url = new URL(`${http.url}/v1/repo/${repo}.git`);
    url.username = 'x-access-token';
    url.password = agent;

    const work = tmpDir();
    await gitOk(['clone', '-q', url.toString(), work]);
    await commitFiles(work, { 'b.txt': 'b\n' }, 'two');
    await gitOk(['push', '-q', 'origin', 'main'], { cwd: work });
    // the Relace form: the secret itself in the URL path
    const del = await api.delete(`/v1/repo_token/${agent}`).set('Authorization', `Bearer ${admin}`);
    expect(del.status).toBe(204);
    // and a failed attempt with a wrong secret
    await api.get('/v1/repo').set('Authorization', `Bearer ${agent.slice(0, -3)}abc`);

    const text = chunks.join('');
    for (const secret of [admin, agent]) {
      expect(text).not.toContain(secret);
      // nor its random part on its own (e.g. a Basic header decoded into a field)
      expect(text).not.toContain(secret.slice(secret.length - 30));
    }

    const requests = lines().filter((l) => l.msg === 'request');
    const clone = requests.find((l) => l.route === '/v1/repo/:id/git-upload-pack' && l.status === 200);
    expect(clone).toMatchObject({ method: 'POST', token_id: agentId, repo_id: repo, ip: '127.0.0.1' });
    expect(clone!.req_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(clone!.bytes_out).toBeGreaterThan(100);
    expect(clone!.bytes_in).toBeGreaterThan(50);
    expect(typeof clone!.ms).toBe('number');
    const push = requests.find((l) => l.route === '/v1/repo/:id/git-receive-pack');
    expect(push).toMatchObject({ method: 'POST', status: 200, token_id: agentId, repo_id: repo });
    expect(push!.bytes_in).toBeGreaterThan(100);
    const revoke = requests.find((l) => l.method === 'DELETE');
    expect(revoke).toMatchObject({ route: '/v1/repo_token/:ref', url: '/v1/repo_token/[redacted]', status: 204 });
    expect(new Set(requests.map((l) => l.req_id)).size).toBe(requests.length); // one line per request, ids unique
  });
});
