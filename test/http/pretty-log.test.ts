import { describe, expect, it } from 'vitest';
import { formatLine } from '../../src/log/pretty.js';

describe('pretty log lines', () => {
  it('turns a request log line into one readable line', () => {
    const line = JSON.stringify({
      level: 30,
      time: '2026-01-01T12:04:05.123Z',
      msg: 'request',
      req_id: 'r1',
      method: 'POST',
      route: '/v1/repo/:id/git-upload-pack',
      url: '/v1/repo/x.git/git-upload-pack',
      status: 200,
      ms: 12.345,
      bytes_in: 1234,
      bytes_out: 5 * 1024 * 1024,
      token_id: 'tok1',
      repo_id: 'repo1',
      ip: '127.0.0.1',
    });
    expect(formatLine(line)).toBe(
      '12:04:05.123 INFO  request POST /v1/repo/:id/git-upload-pack 200 12.3ms in=1.2kB out=5.0MB token=tok1 repo=repo1 ip=127.0.0.1 req=r1\n',
    );
  });

  it('shows errors and passes non-JSON through', () => {
    const out = formatLine(JSON.stringify({ level: 50, time: '2026-01-01T00:00:00.000Z', msg: 'boom', err: { type: 'Error', message: 'bad', stack: 'Error: bad\n    at x' } }));
    expect(out).toMatch(/^00:00:00.000 ERROR boom\n {4}Error: bad\n/);
    expect(formatLine('plain text')).toBe('plain text\n');
  });
});
