// Outbound HTTP(S) under the address policy. The scheme and a literal address in the URL are
// checked before a request exists (Node connects to IP literals without a lookup); a host name
// is resolved by our own lookup on the agent, which refuses the whole answer when any address is
// forbidden and hands the checked addresses to the socket: the address connected to is the
// address checked, so DNS rebinding has no window. Every request, every redirect hop, goes
// through `request`.
import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { AddressPolicy } from './address-policy.js';

/** The destination may not be reached; `reason` names the rule ("loopback address", ...), never the address. */
export class DestinationRefused extends Error {
  constructor(readonly reason: string) {
    super(`destination refused: ${reason}`);
    this.name = 'DestinationRefused';
  }
}

export class RequestPolicy {
  readonly addresses: AddressPolicy;
  private readonly agents: { 'http:': http.Agent; 'https:': https.Agent };

  /** `allowNetworks`: CIDRs (parseNetworks) that may be reached although in a forbidden range. */
  constructor(allowNetworks: readonly string[] = []) {
    this.addresses = new AddressPolicy(allowNetworks);
    const lookup = this.lookup.bind(this) as net.LookupFunction;
    // no keep-alive: every connection is made (and resolved, and checked) for its request
    this.agents = { 'http:': new http.Agent({ lookup, keepAlive: false }), 'https:': new https.Agent({ lookup, keepAlive: false }) };
  }

  /** Throws DestinationRefused unless `url` is http(s) and a literal address in it may be reached. */
  check(url: URL): void {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new DestinationRefused('only http and https URLs are allowed');
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (net.isIP(host) === 0) return; // a name: judged on what it resolves to, at connect time
    const refusal = this.addresses.refusal(host);
    if (refusal) throw new DestinationRefused(refusal);
  }

  /** An http(s) request under the policy: throws DestinationRefused for the URL itself; a name that
   *  resolves to a forbidden address fails the request with a DestinationRefused 'error' before connecting. */
  request(url: URL, options: Omit<http.RequestOptions, 'agent' | 'lookup'>): http.ClientRequest {
    this.check(url);
    const protocol = url.protocol as 'http:' | 'https:';
    return (protocol === 'https:' ? https : http).request(url, { ...options, agent: this.agents[protocol] });
  }

  private lookup(hostname: string, options: dns.LookupOptions, callback: (err: Error | null, address: string | dns.LookupAddress[], family?: number) => void): void {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      for (const { address } of addresses) {
        const refusal = this.addresses.refusal(address);
        if (refusal) return callback(new DestinationRefused(refusal), []);
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0];
      if (!first) return callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), []);
      callback(null, first.address, first.family);
    });
  }
}
