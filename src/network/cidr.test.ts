import { test } from 'node:test';
import assert from 'node:assert/strict';
import { broadcast, contains, formatAddress, formatCidr, nthAddress, overlaps, parseAddress, parseCidr } from './cidr.js';
import { parseRoutes } from './host-routes.js';

test('CIDRs parse and format; host bits are dropped', () => {
  assert.deepEqual(parseCidr('10.89.0.0/16'), { base: 0x0a590000, prefix: 16 });
  assert.equal(formatCidr(parseCidr('192.168.1.7/24')), '192.168.1.0/24');
  assert.equal(formatCidr(parseCidr('0.0.0.0/0')), '0.0.0.0/0');
  assert.equal(formatCidr(parseCidr('255.255.255.255/32')), '255.255.255.255/32');
  for (const bad of ['10.0.0.0', '10.0.0.0/33', '10.0.0/8', '10.0.0.256/8', '10.0.0.01/8', '10.0.0.0/8/1', '10.0.0.0/', 'x']) {
    assert.throws(() => parseCidr(bad), { message: `invalid CIDR address: ${bad}` });
  }
});

test('addresses round-trip; bad ones are refused', () => {
  assert.equal(formatAddress(parseAddress('172.31.255.254')), '172.31.255.254');
  assert.equal(parseAddress('255.255.255.255'), 0xffffffff);
  assert.throws(() => parseAddress('1.2.3'), { message: 'invalid IPv4 address: 1.2.3' });
});

test('contains, overlaps, broadcast and nth address', () => {
  const net = parseCidr('10.213.0.0/24');
  assert.ok(contains(net, parseAddress('10.213.0.255')));
  assert.ok(!contains(net, parseAddress('10.213.1.0')));
  assert.ok(overlaps(net, parseCidr('10.213.0.128/25')));
  assert.ok(overlaps(parseCidr('10.0.0.0/8'), net));
  assert.ok(!overlaps(net, parseCidr('10.213.1.0/24')));
  assert.equal(formatAddress(broadcast(net)), '10.213.0.255');
  assert.equal(formatAddress(broadcast(parseCidr('0.0.0.0/0'))), '255.255.255.255');
  assert.equal(formatAddress(nthAddress(net, 1)), '10.213.0.1');
  assert.throws(() => nthAddress(net, 256), RangeError);
});

test('host routes: destinations with their prefix, no default route', () => {
  const table = [
    'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
    'eth0\t00000000\t0100000A\t0003\t0\t0\t0\t00000000\t0\t0\t0',
    'eth0\t0000000A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0',
    'wg0\t0064A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
    '',
  ].join('\n');
  assert.deepEqual(parseRoutes(table).map(formatCidr), ['10.0.0.0/16', '192.168.100.0/24']);
});
