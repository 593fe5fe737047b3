// Issue 13 point 16: a read token cannot make the server hold a big repository in memory
// through the content API. GET /file and GET /clone look blob sizes up first and answer
// 413 READ_TOO_LARGE past GITGATE_MAX_READ_BYTES without reading the blobs.
import crypto from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commitFiles, gitOk, tmpDir } from '../helpers/git.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const LIMIT = 64 * 1024;

describe('content API read limits', () => {
  let s: TestServer;
  let repo: string;
  let reader: string;
  let bigOid: string;
  const read: string[] = []; // every object id the repository's store was asked to read
  beforeAll(async () => {
    s = await startTestServer('fs', { GITGATE_MAX_READ_BYTES: String(LIMIT) });
    repo = await s.createRepo({});
    reader = (await s.mint({ repo_ids: [repo], permission: 'read' })).token;
    const work = path.join(tmpDir(), 'w');
    await gitOk(['init', '-q', '-b', 'main', work]);
    const big = crypto.randomBytes(3 * LIMIT).toString('base64'); // text, so clone would include it
    await commitFiles(work, { 'big.txt': big, 'small.txt': 'small\n' }, 'big and small');
    bigOid = (await gitOk(['rev-parse', 'HEAD:big.txt'], { cwd: work })).trim();
    await gitOk(['push', '-q', s.gitUrl(repo, s.admin), 'main'], { cwd: work });
    const objects = s.ctx.manager.get(repo).objects;
    const original = objects.read.bind(objects);
    objects.read = (oid: string) => {
      read.push(oid);
      return original(oid);
    };
  });
  afterAll(async () => {
    await s.close();
  });

  it('GET /file of a blob over the limit is 413 READ_TOO_LARGE, and the blob is never read', async () => {
    const res = await s.api.get(`/v1/repo/${repo}/file/big.txt`).set('Authorization', `Bearer ${reader}`);
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('READ_TOO_LARGE');
    expect(res.body.error.message).toContain(String(LIMIT));
    expect(read).not.toContain(bigOid);
    const small = await s.api.get(`/v1/repo/${repo}/file/small.txt`).set('Authorization', `Bearer ${reader}`).buffer(true);
    expect(small.status).toBe(200);
    expect(small.body.toString()).toBe('small\n');
  });

  it('GET /clone over the limit in total is 413 READ_TOO_LARGE, and no blob is read', async () => {
    read.length = 0;
    const res = await s.api.get(`/v1/repo/${repo}/clone`).set('Authorization', `Bearer ${reader}`);
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('READ_TOO_LARGE');
    expect(read).not.toContain(bigOid);
  });

  it('many small files that add up past the limit are refused too; under it, clone works', async () => {
    const files = Array.from({ length: 5 }, (_, i) => ({ filename: `f${i}.txt`, content: 'x'.repeat(LIMIT / 4) }));
    const many = await s.createRepo({ source: { type: 'files', files } });
    const over = await s.api.get(`/v1/repo/${many}/clone`).set('Authorization', `Bearer ${s.admin}`);
    expect(over.status).toBe(413);
    const fits = await s.createRepo({ source: { type: 'files', files: files.slice(0, 3) } });
    const ok = await s.api.get(`/v1/repo/${fits}/clone`).set('Authorization', `Bearer ${s.admin}`);
    expect(ok.status).toBe(200);
    expect(ok.body.files).toHaveLength(3);
  });
});
