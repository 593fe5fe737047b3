// Structured request logs: one JSON line per request with id, method, route, repository id,
// token id, status, bytes and duration — and never a token secret, not even one in a URL path.
import fs from 'node:fs';
import net from 'node:net';
import zlib from 'node:zlib';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/http/server.js';
import { createServices, type Services } from '../../src/service/services.js';
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
  let ctx: Services;
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
    ctx = createServices(config, pino({ level: 'debug' }, sink));
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
    expect(revoke).toMatchObject({ route: '/v1/repo_token/:ref', url: '/v1/repo_token/ggr_[REDACTED]', status: 204 });
    expect(new Set(requests.map((l) => l.req_id)).size).toBe(requests.length); // one line per request, ids unique
  });

  it('a percent-encoded secret in the URL (gg%72_…, double-encoded) reaches no log, error or audit record', async () => {
    const { secret: admin } = await ctx.tokens.create({ kind: 'workspace', permission: 'admin', name: 'encoder' }, null);
    const api = request(http.url);
    const minted = await api.post('/v1/workspace_token').set('Authorization', `Bearer ${admin}`).send({ permission: 'read' });
    const victim = minted.body.token as string;
    // the attacker's spelling: 'w' of the prefix and one character of the random part escaped
    const escape = (c: string) => `%${c.charCodeAt(0).toString(16)}`;
    const spelled = `gg${escape('w')}_${victim.slice(4, 30)}${escape(victim[30]!)}${victim.slice(31)}`;
    const resolved = await api.get(`/v1/repo_token/${spelled}`).set('Authorization', `Bearer ${admin}`);
    expect(resolved.status).toBe(200); // the server decodes it and finds the token
    expect(resolved.body.id).toBe(minted.body.id);
    const missing = await api.get(`/v1/no/such/${spelled}/${spelled.replace('%77', '%2577')}`).set('Authorization', `Bearer ${admin}`);
    expect(missing.status).toBe(404);
    expect(JSON.stringify(missing.body)).toContain('ggw_[REDACTED]');
    // a token named after a secret: the audit trail stores the name redacted
    await api.post('/v1/workspace_token').set('Authorization', `Bearer ${admin}`).send({ permission: 'read', name: `see ${spelled}` });
    const audit = await api.get('/v1/audit').set('Authorization', `Bearer ${admin}`);

    const tail = victim.slice(victim.length - 20);
    for (const text of [chunks.join(''), JSON.stringify(missing.body), JSON.stringify(audit.body), await http.runtime.metrics.render()]) {
      expect(text).not.toContain(tail);
      expect(text).not.toContain(victim.slice(20, 40));
    }
    const line = lines().find((l) => l.msg === 'request' && l.route === '/v1/repo_token/:ref' && l.status === 200);
    expect(line?.url).toBe('/v1/repo_token/ggw_[REDACTED]');
  });

  it('logs a client that hangs up mid-push (gzip body) as a hang-up, not as a server error', async () => {
    const { secret: admin } = await ctx.tokens.create({ kind: 'workspace', permission: 'admin', name: 'hangup' }, null);
    const created = await request(http.url).post('/v1/repo').set('Authorization', `Bearer ${admin}`).send({});
    const repo = created.body.repo_id as string;
    const before = chunks.length;
    const { port } = new URL(http.url);
    const command = `${'0'.repeat(40)} ${'1'.repeat(40)} refs/heads/main\0report-status side-band-64k`;
    const pkt = `${(command.length + 4).toString(16).padStart(4, '0')}${command}0000PACK\0\0\0\x02`;
    const gz = zlib.gzipSync(Buffer.from(pkt, 'latin1')).subarray(0, 40); // the rest never comes
    await new Promise<void>((resolve, reject) => {
      const sock = net.connect(Number(port), '127.0.0.1', () => {
        sock.write(
          `POST /v1/repo/${repo}.git/git-receive-pack HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${admin}\r\n` +
            'Content-Type: application/x-git-receive-pack-request\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n' +
            `${gz.length.toString(16)}\r\n`,
        );
        sock.write(gz);
        sock.write('\r\n');
        setTimeout(() => {
          sock.destroy();
          resolve();
        }, 300);
      });
      sock.on('error', reject);
    });
    // wait for the request's log line
    for (let i = 0; i < 50 && !lines().some((l) => l.msg === 'request' && l.route === '/v1/repo/:id/git-receive-pack' && l.repo_id === repo); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const fresh = chunks.slice(before).join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as LogLine & { level: number; aborted?: boolean });
    const line = fresh.find((l) => l.msg === 'request' && l.repo_id === repo);
    expect(line).toMatchObject({ route: '/v1/repo/:id/git-receive-pack', aborted: true });
    expect(fresh.filter((l) => l.level >= 50)).toEqual([]);
    expect(fs.readdirSync(`${dataDir}/${repo}.git/objects/pack`).filter((f) => f.startsWith('tmp_'))).toEqual([]);
  });
});
