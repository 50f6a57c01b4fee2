import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatAddress, InvalidAddressError, parseAddress } from '../../src/net/index.js';
import { localSocketPath } from '../../src/net/address.js';

test('addresses parse into transports and format back', () => {
  const cases: Array<[string, unknown]> = [
    ['tcp://127.0.0.1:7000', { transport: 'tcp', host: '127.0.0.1', port: 7000 }],
    ['tcp://[::1]:0', { transport: 'tcp', host: '::1', port: 0 }],
    ['tls://db.example.com:443', { transport: 'tls', host: 'db.example.com', port: 443 }],
    ['unix:///run/concord.sock', { transport: 'unix', path: '/run/concord.sock' }],
    ['mem://node-1', { transport: 'mem', name: 'node-1' }],
  ];
  for (const [address, parsed] of cases) {
    assert.deepEqual(parseAddress(address), parsed);
    assert.equal(formatAddress(parseAddress(address)), address);
  }
});

test('malformed addresses are InvalidAddressError', () => {
  for (const address of ['127.0.0.1:7000', 'http://x:1', 'tcp://host', 'tcp://host:99999', 'unix://', 'mem://', 'tcp://[::1:5']) {
    assert.throws(() => parseAddress(address), InvalidAddressError, address);
  }
});

test('unix paths become named pipes on Windows', () => {
  assert.equal(localSocketPath('/tmp/a.sock', 'linux'), '/tmp/a.sock');
  assert.equal(localSocketPath('/tmp/a.sock', 'win32'), '\\\\.\\pipe\\tmp\\a.sock');
  assert.equal(localSocketPath('\\\\.\\pipe\\x', 'win32'), '\\\\.\\pipe\\x');
});
