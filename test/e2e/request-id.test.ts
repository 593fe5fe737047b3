// X-Request-Id: every response carries one and the request's log line has it; an incoming id
// is taken only from a trusted proxy and only when it looks like an id. The user agent is
// logged (secrets in it redacted).
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Line {
  msg: string;
  req_id?: string;
  user_agent?: string;
  url?: string;
}

function capture(): { log: pino.Logger; lines: () => Line[] } {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  return {
    log: pino({ level: 'info' }, sink),
    lines: () => chunks.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line).filter((l) => l.msg === 'request'),
  };
}

describe('X-Request-Id and user agent', () => {
  const direct = capture();
  const proxied = capture();
  let plain: TestServer;
  let behindProxy: TestServer;
  beforeAll(async () => {
    plain = await startTestServer('memory', {}, { log: direct.log });
    behindProxy = await startTestServer('memory', { GITGATE_TRUST_PROXY: 'loopback' }, { log: proxied.log });
  });
  afterAll(async () => {
    await plain?.close();
    await behindProxy?.close();
  });

  it('answers with a fresh id, logs it with the user agent, and ignores a client-sent id without a trusted proxy', async () => {
    const res = await plain.api.get('/healthz').set('X-Request-Id', 'client-chosen-id').set('User-Agent', 'git/2.39.5 ggw_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    const id = res.headers['x-request-id'];
    expect(id).toMatch(UUID);
    const line = direct.lines().find((l) => l.req_id === id);
    expect(line?.user_agent).toBe('git/2.39.5 ggw_[REDACTED]');
    expect(JSON.stringify(direct.lines())).not.toContain('client-chosen-id');
    // error responses carry it too
    const missing = await plain.api.get('/v1/nope');
    expect(missing.status).toBe(404);
    expect(missing.headers['x-request-id']).toMatch(UUID);
  });

  it('takes the id from a trusted proxy when it is well-formed', async () => {
    const res = await behindProxy.api.get('/healthz').set('X-Request-Id', 'nginx-0123456789abcdef').set('User-Agent', 'curl/8');
    expect(res.headers['x-request-id']).toBe('nginx-0123456789abcdef');
    expect(proxied.lines().find((l) => l.req_id === 'nginx-0123456789abcdef')?.user_agent).toBe('curl/8');
    for (const bad of ['has spaces in it', 'x'.repeat(129), 'semi;colon', '']) {
      const r = await behindProxy.api.get('/healthz').set('X-Request-Id', bad);
      expect(r.headers['x-request-id'], bad).toMatch(UUID);
    }
  });
});
