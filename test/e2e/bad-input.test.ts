// Malformed requests get clear errors, change nothing on disk, and the server keeps serving.
import crypto from 'node:crypto';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLUSH, pktText } from '../../src/protocol/pkt-line.js';
import { gitOk, tmpDir } from '../helpers/git.js';
import { binary } from '../helpers/binary.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

describe('bad input', () => {
  let s: TestServer;
  let repo: string;
  let head: string;
  const auth = () => ({ Authorization: `Bearer ${s.admin}` });
  beforeAll(async () => {
    s = await startTestServer('fs');
    repo = await s.createRepo({ source: { type: 'files', files: [{ filename: 'a.txt', content: 'a\n' }] } });
    head = (await gitOk(['ls-remote', s.gitUrl(repo, s.admin), 'refs/heads/main'])).split('\t')[0]!;
  });
  afterAll(async () => {
    await s.close();
  });

  async function snapshot(): Promise<string> {
    const dir = s.ctx.manager.gitdirOf(repo);
    const files = await gitOk(['ls-files', '-o'], { cwd: dir }).catch(() => '');
    const refs = await gitOk(['--git-dir', dir, 'for-each-ref']);
    const objects = await gitOk(['--git-dir', dir, 'count-objects', '-v']);
    const packs = (await import('node:fs')).readdirSync(path.join(dir, 'objects', 'pack')).sort().join(',');
    return `${files}\n${refs}\n${objects}\n${packs}`;
  }

  async function stillServes(): Promise<void> {
    await gitOk(['clone', '-q', s.gitUrl(repo, s.admin), path.join(tmpDir(), 'c')]);
    await s.fsck(repo);
  }

  it.each([
    ['bad JSON', '{"name": '],
    ['JSON that is not an object', '"hello"'],
  ])('rejects %s with 400 and a JSON error', async (_n, body) => {
    const res = await s.api.post('/v1/repo').set(auth()).set('Content-Type', 'application/json').send(body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toMatch(/BAD_JSON|VALIDATION/);
    expect(typeof res.body.error.message).toBe('string');
  });

  it('rejects traversal and .git paths when creating from files', async () => {
    for (const filename of ['../x', '/etc/passwd', '.git/config', 'a/../../b', 'a/.GIT/x', 'nul\0byte', '']) {
      const res = await s.api.post('/v1/repo').set(auth()).send({ source: { type: 'files', files: [{ filename, content: 'x' }] } });
      expect(res.status, filename).toBe(400);
      expect(res.body.error.code).toBe('BAD_PATH');
    }
    const list = await s.api.get('/v1/repo').set(auth());
    expect(list.body.total_items).toBe(1);
  });

  it('answers unknown ids and routes with 404 JSON', async () => {
    const res = await s.api.get('/v1/repo/does-not-exist').set(auth());
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('REPO_NOT_FOUND');
    const tok = await s.api.get('/v1/repo_token/nope').set(auth());
    expect(tok.status).toBe(404);
    const route = await s.api.get('/v1/nothing-here').set(auth());
    expect(route.status).toBe(404);
  });

  it('rejects malformed tokens with 401 and never echoes them', async () => {
    for (const t of ['ggw_', 'ggr_' + 'A'.repeat(60), 'Bearer', '\u00ff\u00fe']) {
      const res = await s.api.get('/v1/repo').set('Authorization', `Bearer ${t}`);
      expect(res.status).toBe(401);
      if (t.length > 4) expect(res.text).not.toContain(t);
    }
  });

  it('answers garbage pkt-lines on both services with 400 and changes nothing', async () => {
    const before = await snapshot();
    for (const service of ['git-upload-pack', 'git-receive-pack']) {
      for (const body of [Buffer.from('this is not a pkt-line'), Buffer.from('0010abc'), Buffer.from('zzzz'), crypto.randomBytes(3000)]) {
        const res = await s.api
          .post(`/v1/repo/${repo}.git/${service}`)
          .set(auth())
          .set('Content-Type', `application/x-${service}-request`)
          .send(body);
        expect([400, 200]).toContain(res.status);
        if (res.status === 400) expect(res.text).toMatch(/Protocol error|Invalid pack/);
      }
    }
    expect(await snapshot()).toBe(before);
    await stillServes();
  });

  it('reports a truncated or corrupt pack in report-status and leaves refs and files alone', async () => {
    const before = await snapshot();
    const newOid = 'b'.repeat(40);
    const cmd = Buffer.concat([pktText(`${head} ${newOid} refs/heads/main\0report-status`), FLUSH]);
    const pack = Buffer.concat([Buffer.from('PACK'), Buffer.from([0, 0, 0, 2, 0, 0, 0, 5]), crypto.randomBytes(40)]);
    for (const payload of [pack, pack.subarray(0, 10), Buffer.alloc(0)]) {
      const res = await s.api
        .post(`/v1/repo/${repo}.git/git-receive-pack`)
        .set(auth())
        .set('Content-Type', 'application/x-git-receive-pack-request')
        .send(Buffer.concat([cmd, payload]))
        .buffer(true)
        .parse(binary);
      expect(res.status).toBe(200);
      expect(res.body.toString()).toMatch(/unpack (?!ok)/);
      expect(res.body.toString()).toContain('ng refs/heads/main');
    }
    expect(await snapshot()).toBe(before);
    await stillServes();
  });

  it('rejects a wrong content type and an undecodable gzip body', async () => {
    const wrongType = await s.api.post(`/v1/repo/${repo}.git/git-upload-pack`).set(auth()).set('Content-Type', 'text/plain').send('0000');
    expect(wrongType.status).toBe(415);
    const badGzip = await s.api
      .post(`/v1/repo/${repo}.git/git-upload-pack`)
      .set(auth())
      .set('Content-Type', 'application/x-git-upload-pack-request')
      .set('Content-Encoding', 'gzip')
      .send(Buffer.from('definitely not gzip'));
    expect(badGzip.status).toBe(400);
    const goodGzip = await s.api
      .post(`/v1/repo/${repo}.git/git-upload-pack`)
      .set(auth())
      .set('Content-Type', 'application/x-git-upload-pack-request')
      .set('Content-Encoding', 'gzip')
      .send(zlib.gzipSync(Buffer.concat([pktText(`want ${head} side-band-64k`), FLUSH, pktText('done')])))
      .buffer(true)
      .parse(binary);
    expect(goodGzip.status).toBe(200);
    expect(goodGzip.body.toString('latin1')).toContain('PACK');
    await stillServes();
  });

  it('answers an unknown want with a clear error', async () => {
    const res = await s.api
      .post(`/v1/repo/${repo}.git/git-upload-pack`)
      .set(auth())
      .set('Content-Type', 'application/x-git-upload-pack-request')
      .send(Buffer.concat([pktText(`want ${'c'.repeat(40)} side-band-64k`), FLUSH, pktText('done')]))
      .buffer(true)
      .parse(binary);
    expect(res.status).toBe(200);
    expect(res.body.toString()).toMatch(/^[0-9a-f]{4}ERR upload-pack: not our ref c{40}/);
  });
});
