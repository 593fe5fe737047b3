// A webhook URL must pass the server-side request policy when it is registered (again at every
// delivery: names are judged on what they resolve to then).
import dns from 'node:dns/promises';
import net from 'node:net';
import { GitgateError } from '../errors.js';
import { DestinationRefused, type RequestPolicy } from '../net/request-policy.js';

export const MAX_WEBHOOK_URL_LENGTH = 2048;

/** The URL as shown in errors: no query (it may carry a token), no userinfo. */
function shown(u: URL): string {
  return `${u.protocol}//${u.host}${u.pathname}`;
}

export async function checkWebhookUrl(policy: RequestPolicy, raw: string): Promise<URL> {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new GitgateError('VALIDATION', { detail: 'url: not an absolute URL' });
  }
  if (u.username || u.password) {
    throw new GitgateError('VALIDATION', { detail: 'url: credentials in the URL are not allowed; receivers verify the X-Gitgate-Signature-256 header instead' });
  }
  try {
    policy.check(u);
    const host = u.hostname.replace(/^\[|\]$/g, '');
    if (net.isIP(host) === 0) {
      // a name: refused now if it resolves somewhere forbidden (a name that does not resolve yet
      // is accepted; each delivery resolves and checks it again)
      const addresses = await dns.lookup(host, { all: true }).catch(() => []);
      for (const { address } of addresses) {
        const refusal = policy.addresses.refusal(address);
        if (refusal) throw new DestinationRefused(refusal);
      }
    }
  } catch (err) {
    if (err instanceof DestinationRefused) throw new GitgateError('SOURCE_FORBIDDEN', { url: shown(u), reason: err.reason });
    throw err;
  }
  return u;
}
