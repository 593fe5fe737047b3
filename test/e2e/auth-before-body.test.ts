// Issue 13 point 6: the token (and the route's permission checks) come before the body. An
// unauthenticated or unauthorised client never gets its body buffered or parsed: it is answered
// while its upload is still running, and the server hangs up instead of reading the rest.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** Send the headers and `sent` bytes of a body declared `declared` bytes long, never finishing it;
 *  resolves with the response that arrives meanwhile. */
function unfinishedUpload(
  s: TestServer,
  method: string,
  path: string,
  headers: Record<string, string>,
  declared: number,
  sent: number,
): Promise<{ status: number; connection: string | undefined; body: { error?: { code: string } } }> {
  const { hostname, port } = new URL(s.url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: hostname, port, method, path, agent: false, headers: { 'Content-Type': 'application/json', 'Content-Length': String(declared), ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          req.destroy();
          resolve({ status: res.statusCode!, connection: res.headers.connection, body: JSON.parse(Buffer.concat(chunks).toString() || '{}') });
        });
      },
    );
    req.on('error', reject);
    req.write(Buffer.alloc(sent, '{'));
    // no req.end(): the rest of the body never comes
  });
}

describe('authentication before bodies', () => {
  let s: TestServer;
  let repo: string;
  let repoToken: string;
  let readToken: string;
  const MiB = 1024 * 1024;
  beforeAll(async () => {
    s = await startTestServer('memory');
    repo = await s.createRepo({});
    repoToken = (await s.mint({ repo_ids: [repo], permission: 'admin' })).token;
    readToken = (await s.mint({ repo_ids: [repo], permission: 'read' })).token;
  });
  afterAll(async () => {
    await s.close();
  });

  it('20 MiB of invalid JSON without credentials is 401, not 400 BAD_JSON', async () => {
    const junk = '{'.repeat(20 * MiB);
    for (const [method, path] of [
      ['post', '/v1/repo'],
      ['post', '/v1/repo_token'],
      ['post', '/v1/workspace_token'],
      ['put', `/v1/repo/${repo}/protected_refs`],
      ['post', '/mcp'],
    ] as const) {
      const res = await s.api[method](path).set('Content-Type', 'application/json').send(junk);
      expect(res.status, path).toBe(401);
      expect(res.body.error.code).toBe('UNAUTHENTICATED');
    }
  });

  it('an unauthenticated upload that never finishes is answered 401 and the connection closed', async () => {
    for (const path of ['/v1/repo', '/v1/repo_token', '/v1/workspace_token', `/v1/repo_token/tok_0000000000000000/rotate`, '/mcp']) {
      const res = await unfinishedUpload(s, 'POST', path, {}, 30 * MiB, MiB);
      expect(res.status, path).toBe(401);
      expect(res.body.error?.code).toBe('UNAUTHENTICATED');
      expect(res.connection).toBe('close');
    }
    // a wrong token: the same
    const res = await unfinishedUpload(s, 'POST', '/v1/repo', { Authorization: `Bearer ${s.admin.slice(0, -3)}abc` }, 30 * MiB, MiB);
    expect(res.status).toBe(401);
  });

  it('an authenticated token the route refuses is answered before its body is read', async () => {
    // repository tokens cannot create repositories; a read token cannot protect refs or mint keys
    const create = await unfinishedUpload(s, 'POST', '/v1/repo', { Authorization: `Bearer ${repoToken}` }, 30 * MiB, MiB);
    expect(create.status).toBe(403);
    expect(create.body.error?.code).toBe('CONTROL_PLANE_ONLY');
    const protect = await unfinishedUpload(s, 'PUT', `/v1/repo/${repo}/protected_refs`, { Authorization: `Bearer ${readToken}` }, 30 * MiB, MiB);
    expect(protect.status).toBe(403);
    const apikey = await unfinishedUpload(s, 'POST', `/v1/repo/${repo}/apikey`, { Authorization: `Bearer ${readToken}` }, 30 * MiB, MiB);
    expect(apikey.status).toBe(403);
    const rotate = await unfinishedUpload(s, 'POST', '/v1/repo_token/tok_0000000000000000/rotate', { Authorization: `Bearer ${readToken}` }, 30 * MiB, MiB);
    expect(rotate.status).toBe(404);
  });

  it('an authorised request still gets its body parsed: bad JSON is 400, good JSON works', async () => {
    const bad = await s.api.post('/v1/repo').set('Authorization', `Bearer ${s.admin}`).set('Content-Type', 'application/json').send('{"name": ');
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('BAD_JSON');
    const good = await s.api.put(`/v1/repo/${repo}/protected_refs`).set('Authorization', `Bearer ${s.admin}`).send({ patterns: ['refs/heads/main'] });
    expect(good.status).toBe(200);
    expect(good.body.patterns).toEqual(['refs/heads/main']);
    // and the server keeps serving on fresh connections
    expect((await s.api.get(`/v1/repo/${repo}`).set('Authorization', `Bearer ${s.admin}`)).status).toBe(200);
  });
});
