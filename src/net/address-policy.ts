// Which IP addresses requests gitgate sends on its own (git sources, later webhooks) may reach.
// Default: only globally routable unicast. Loopback, private, link-local, shared (CGNAT, as
// GitLab blocks it), unspecified, multicast and reserved ranges are refused, as are IPv6 forms
// that embed an IPv4 address (mapped ::ffff:a.b.c.d, compatible ::a.b.c.d, NAT64 64:ff9b::/96),
// which are judged by that IPv4 address. Operators may allow networks explicitly.
import net from 'node:net';

type Family = 'ipv4' | 'ipv6';

const FORBIDDEN: [category: string, network: string, prefix: number, family: Family][] = [
  ['unspecified', '0.0.0.0', 8, 'ipv4'], // "this network"; Linux connects 0.0.0.0 to localhost
  ['private', '10.0.0.0', 8, 'ipv4'],
  ['shared (CGNAT)', '100.64.0.0', 10, 'ipv4'],
  ['loopback', '127.0.0.0', 8, 'ipv4'],
  ['link-local', '169.254.0.0', 16, 'ipv4'], // cloud metadata lives here
  ['private', '172.16.0.0', 12, 'ipv4'],
  ['reserved', '192.0.0.0', 24, 'ipv4'],
  ['private', '192.168.0.0', 16, 'ipv4'],
  ['reserved', '198.18.0.0', 15, 'ipv4'],
  ['multicast', '224.0.0.0', 4, 'ipv4'],
  ['reserved', '240.0.0.0', 4, 'ipv4'], // includes the broadcast address
  ['unspecified', '::', 128, 'ipv6'],
  ['loopback', '::1', 128, 'ipv6'],
  ['reserved', '100::', 64, 'ipv6'], // discard-only
  ['private', '64:ff9b:1::', 48, 'ipv6'], // local-use NAT64
  ['private', 'fc00::', 7, 'ipv6'],
  ['link-local', 'fe80::', 10, 'ipv6'],
  ['private', 'fec0::', 10, 'ipv6'], // deprecated site-local
  ['multicast', 'ff00::', 8, 'ipv6'],
];

const CATEGORIES: { category: string; list: net.BlockList }[] = (() => {
  const byCategory = new Map<string, net.BlockList>();
  for (const [category, network, prefix, family] of FORBIDDEN) {
    let list = byCategory.get(category);
    if (!list) byCategory.set(category, (list = new net.BlockList()));
    list.addSubnet(network, prefix, family);
  }
  return [...byCategory].map(([category, list]) => ({ category, list }));
})();

/** Parses `GITGATE_IMPORT_ALLOW_NETWORKS`: comma-separated CIDRs or single addresses. Throws on a bad entry. */
export function parseNetworks(raw: string | undefined): string[] {
  if (!raw || raw.trim() === '') return [];
  return raw.split(',').map((s) => s.trim()).filter(Boolean).map((entry) => {
    const m = /^([^/]+)(?:\/(\d{1,3}))?$/.exec(entry);
    const version = m ? net.isIP(m[1]!) : 0;
    const max = version === 4 ? 32 : 128;
    const prefix = m?.[2] === undefined ? max : Number(m[2]);
    if (!m || version === 0 || prefix > max) throw new Error(`not a network in CIDR notation (like 10.0.0.0/8 or fd00::/8): ${JSON.stringify(entry)}`);
    return `${m[1]}/${prefix}`;
  });
}

export class AddressPolicy {
  private readonly allow = new net.BlockList();

  /** `allowNetworks` as returned by parseNetworks: reachable even when in a forbidden range. */
  constructor(readonly allowNetworks: readonly string[] = []) {
    for (const cidr of allowNetworks) {
      const [address, prefix] = cidr.split('/') as [string, string];
      this.allow.addSubnet(address, Number(prefix), net.isIP(address) === 4 ? 'ipv4' : 'ipv6');
    }
  }

  /** Why `address` may not be reached (e.g. "loopback address"), or null when it may. */
  refusal(address: string): string | null {
    const a = classify(address);
    if (!a) return 'not an IP address';
    if (this.allow.check(a.ip, a.family) || (a.embedded !== null && this.allow.check(a.embedded, 'ipv4'))) return null;
    return a.category === null ? null : `${a.category} address`;
  }
}

/** True for a loopback address in any spelling net.isIP accepts (127/8, ::1, ::ffff:127.x.y.z). */
export function isLoopbackAddress(address: string): boolean {
  return classify(address)?.category === 'loopback';
}

interface Classified {
  ip: string;
  family: Family;
  /** the IPv4 address an IPv6 one embeds, judged in its place */
  embedded: string | null;
  /** the forbidden range it is in, or null for a public address */
  category: string | null;
}

function classify(address: string): Classified | null {
  const ip = address.replace(/^\[|\]$/g, '').replace(/%.*$/, ''); // brackets, IPv6 zone
  const version = net.isIP(ip);
  if (version === 0) return null;
  const family: Family = version === 4 ? 'ipv4' : 'ipv6';
  const embedded = family === 'ipv6' ? embeddedIpv4(ip) : null;
  const category = categoryOf(ip, family) ?? (embedded === null ? null : categoryOf(embedded, 'ipv4'));
  return { ip, family, embedded, category };
}

function categoryOf(ip: string, family: Family): string | null {
  for (const { category, list } of CATEGORIES) if (list.check(ip, family)) return category;
  return null;
}

/** The IPv4 address an IPv6 address stands for (mapped, compatible, NAT64), or null. */
function embeddedIpv4(ip: string): string | null {
  const words = ipv6Words(ip);
  if (!words) return null;
  const zero = (from: number, to: number) => words.slice(from, to).every((w) => w === 0);
  const mapped = zero(0, 5) && words[5] === 0xffff;
  const compatible = zero(0, 6);
  const nat64 = words[0] === 0x64 && words[1] === 0xff9b && zero(2, 6);
  if (!mapped && !compatible && !nat64) return null;
  return [words[6]! >> 8, words[6]! & 0xff, words[7]! >> 8, words[7]! & 0xff].join('.');
}

/** An IPv6 address (already validated by net.isIP) as eight 16-bit words. */
function ipv6Words(ip: string): number[] | null {
  let text = ip.toLowerCase();
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? (text.split('::') as [string, string]) : [text, null];
  const parse = (s: string) => (s === '' ? [] : s.split(':').map((w) => parseInt(w, 16)));
  const left = parse(head);
  const right = tail === null ? [] : parse(tail);
  const words = tail === null ? left : [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  return words.length === 8 && words.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffff) ? words : null;
}
