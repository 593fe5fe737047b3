// The one redaction: literal and percent-encoded secrets, in logs, errors, audit and metrics.
import { describe, expect, it } from 'vitest';
import { generateSecret, newTokenId } from '../src/auth/token-format.js';
import { GitgateError } from '../src/errors.js';
import { redactSecrets } from '../src/redact.js';

const secret = generateSecret('repo', newTokenId());
const random = secret.slice(20); // the part that is not the public id

/** Percent-encode the characters at `positions` (once, or twice with `double`). */
function encode(s: string, positions: number[], double = false): string {
  return [...s].map((c, i) => (positions.includes(i) ? `%${double ? '25' : ''}${c.charCodeAt(0).toString(16)}` : c)).join('');
}

describe('redactSecrets', () => {
  it('hides a secret in a logged URL, path and query alike', () => {
    expect(redactSecrets(`DELETE /v1/repo_token/${secret} 204`)).toBe('DELETE /v1/repo_token/ggr_[REDACTED] 204');
    expect(redactSecrets(`/v1/repo?x=${secret}&y=1`)).toBe('/v1/repo?x=ggr_[REDACTED]&y=1');
  });

  it('hides truncated and mistyped secrets too, but leaves short look-alikes', () => {
    expect(redactSecrets(`/x/${secret.slice(0, 30)}`)).toBe('/x/ggr_[REDACTED]');
    expect(redactSecrets('/x/ggw_Q1/eggr_thing.txt')).toBe('/x/ggw_Q1/eggr_thing.txt');
  });

  it('decodes before matching: %-encoded, partly encoded and double-encoded secrets', () => {
    for (const spelled of [
      encode(secret, [2]), // gg%72_...
      encode(secret, [0, 1, 2, 3, 30, 57]),
      encode(secret, [2], true), // gg%2572_...
      encode(secret, [...secret].map((_, i) => i)),
    ]) {
      const out = redactSecrets(`GET /v1/repo_token/${spelled}?page=%20x`);
      expect(out).toBe('GET /v1/repo_token/ggr_[REDACTED]?page=%20x');
      expect(out).not.toContain(random.slice(0, 8));
    }
  });

  it('leaves text without secrets unchanged, %-escapes included', () => {
    for (const text of ['/v1/repo/abc/file/a%20b.txt', '100%', '%zz%4', 'gg%72_short']) expect(redactSecrets(text)).toBe(text);
  });

  it('runs in every catalogue error message', () => {
    const err = new GitgateError('ROUTE_NOT_FOUND', { method: 'GET', path: `/v1/nope/${encode(secret, [2])}` });
    expect(err.message).toBe('No route for GET /v1/nope/ggr_[REDACTED]');
  });
});
