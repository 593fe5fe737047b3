// Issue 13 point 16: the ref rules for the branch a REST write moves are checked under the
// repository lock, so protecting a branch while a write is on its way cannot be slipped past.
import http from 'node:http';
import { describe, expect, it } from 'vitest';
import { type TestServer, useTestServer } from '../helpers/server.js';

describe('REST branch check under the repository lock', () => {
  let s: TestServer;
  useTestServer('fs', (started) => (s = started));

  it('a file PUT whose early check passed is refused when the branch got protected before it committed', async () => {
    const repo = await s.createRepo({ source: { type: 'files', files: [{ filename: 'a.txt', content: 'a\n' }] } });
    const writer = await s.mint({ repo_ids: [repo], permission: 'write' });
    const head = async () => (await s.api.get(`/v1/repo/${repo}/file/a.txt`).set('Authorization', `Bearer ${s.admin}`)).headers['x-gitgate-commit'];
    const before = await head();

    // observe (not replace) the protected-ref lookup: the first one is the write's early check
    const repos = s.ctx.repos;
    const lookup = repos.protectedRefs.bind(repos);
    let checked!: () => void;
    const earlyCheck = new Promise<void>((resolve) => (checked = resolve));
    repos.protectedRefs = (id: string) => {
      checked();
      return lookup(id);
    };

    const { hostname, port } = new URL(s.url);
    const body = Buffer.from('sneaky\n');
    const answer = new Promise<{ status: number; body: { error?: { code: string; message: string } } }>((resolve, reject) => {
      const req = http.request(
        {
          host: hostname,
          port,
          method: 'PUT',
          path: `/v1/repo/${repo}/file/b.txt`,
          agent: false,
          headers: { Authorization: `Bearer ${writer.token}`, 'Content-Type': 'application/octet-stream', 'Content-Length': String(body.length) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(Buffer.concat(chunks).toString()) }));
        },
      );
      req.on('error', reject);
      req.write(body.subarray(0, 2));
      void earlyCheck.then(async () => {
        // the write is waiting for the rest of its body: protect main now, then let it finish
        const protect = await s.api.put(`/v1/repo/${repo}/protected_refs`).set('Authorization', `Bearer ${s.admin}`).send({ patterns: ['refs/heads/main'] });
        expect(protect.status).toBe(200);
        req.end(body.subarray(2));
      }, reject);
    });
    const res = await answer;
    repos.protectedRefs = lookup;

    expect(res.status).toBe(403);
    expect(res.body.error?.code).toBe('FORBIDDEN');
    expect(await head()).toBe(before);
    const missing = await s.api.get(`/v1/repo/${repo}/file/b.txt`).set('Authorization', `Bearer ${s.admin}`);
    expect(missing.status).toBe(404);
    await s.fsck(repo);
  });
});
