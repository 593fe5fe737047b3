// The address classifier behind every request gitgate sends itself, and its configuration.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { AddressPolicy, isLoopbackAddress, parseNetworks } from '../../src/net/address-policy.js';

describe('AddressPolicy', () => {
  const strict = new AddressPolicy();

  it('refuses every non-public range, in every IPv6 form that embeds an IPv4 address', () => {
    const cases: [string, string][] = [
      ['127.0.0.1', 'loopback'],
      ['127.255.255.254', 'loopback'],
      ['::1', 'loopback'],
      ['[::1]', 'loopback'],
      ['::ffff:127.0.0.1', 'loopback'],
      ['::ffff:7f00:1', 'loopback'],
      ['0:0:0:0:0:ffff:7f00:0001', 'loopback'],
      ['::127.0.0.1', 'loopback'],
      ['64:ff9b::127.0.0.1', 'loopback'],
      ['0.0.0.0', 'unspecified'],
      ['::', 'unspecified'],
      ['10.1.2.3', 'private'],
      ['172.31.255.255', 'private'],
      ['192.168.0.1', 'private'],
      ['fd12:3456::1', 'private'],
      ['fc00::1', 'private'],
      ['::ffff:192.168.0.1', 'private'],
      ['169.254.169.254', 'link-local'],
      ['fe80::1', 'link-local'],
      ['fe80::1%eth0', 'link-local'],
      ['64:ff9b::a9fe:a9fe', 'link-local'],
      ['100.64.0.1', 'shared (CGNAT)'],
      ['100.127.255.255', 'shared (CGNAT)'],
      ['224.0.0.251', 'multicast'],
      ['ff02::fb', 'multicast'],
      ['255.255.255.255', 'reserved'],
      ['240.0.0.1', 'reserved'],
    ];
    for (const [address, category] of cases) expect(strict.refusal(address), address).toBe(`${category} address`);
    expect(strict.refusal('localhost')).toBe('not an IP address');
  });

  it('lets public addresses through', () => {
    for (const address of ['8.8.8.8', '140.82.112.3', '100.128.0.1', '172.32.0.1', '2606:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808']) {
      expect(strict.refusal(address), address).toBeNull();
    }
  });

  it('allows exactly the networks the operator names, IPv4-mapped forms included', () => {
    const p = new AddressPolicy(parseNetworks('10.0.0.0/8, 127.0.0.1, fd00::/8'));
    for (const address of ['10.9.8.7', '64:ff9b::10.9.8.7', '127.0.0.1', '::ffff:127.0.0.1', 'fd00::5']) expect(p.refusal(address), address).toBeNull();
    for (const address of ['127.0.0.2', '::1', '192.168.1.1', 'fe80::1']) expect(p.refusal(address), address).not.toBeNull();
  });

  it('knows loopback for the credential helper', () => {
    for (const address of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', '::ffff:127.0.0.1']) expect(isLoopbackAddress(address), address).toBe(true);
    for (const address of ['10.0.0.1', '8.8.8.8', 'localhost', '::']) expect(isLoopbackAddress(address), address).toBe(false);
  });
});

describe('GITGATE_IMPORT_ALLOW_NETWORKS', () => {
  it('takes comma-separated CIDRs and single addresses', () => {
    expect(loadConfig({}, {}).importAllowNetworks).toEqual([]);
    expect(loadConfig({}, { GITGATE_IMPORT_ALLOW_NETWORKS: ' 10.0.0.0/8,127.0.0.0/8 ,, ::1 ' }).importAllowNetworks).toEqual(['10.0.0.0/8', '127.0.0.0/8', '::1/128']);
  });

  it('refuses anything else as a configuration error', () => {
    for (const bad of ['10.0.0.0/33', 'fd00::/129', 'example.com', '10.0.0/8', '10.0.0.0/', '10.0.0.0/8/8', '*']) {
      expect(() => loadConfig({}, { GITGATE_IMPORT_ALLOW_NETWORKS: bad }), bad).toThrow(/Invalid configuration: GITGATE_IMPORT_ALLOW_NETWORKS: not a network in CIDR notation/);
    }
  });
});
