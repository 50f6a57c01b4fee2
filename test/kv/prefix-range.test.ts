import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prefixPermissionRange } from '../../src/kv/index.js';

test('prefixPermissionRange never changes its input, also when it is a Buffer (whose slice() is a view)', () => {
  const prefix = Buffer.from('a/');
  const range = prefixPermissionRange(prefix);
  assert.equal(Buffer.from(prefix).toString(), 'a/', 'the prefix is unchanged');
  assert.deepEqual([...range.rangeEnd!], [...Buffer.from('a0')]);
  assert.equal(prefixPermissionRange(prefix).rangeEnd!.toString(), range.rangeEnd!.toString(), 'the same answer twice');
  assert.deepEqual([...prefixPermissionRange(Buffer.from([0x61, 0xff])).rangeEnd!], [0x62]);
  assert.deepEqual([...prefixPermissionRange(new Uint8Array(0)).rangeEnd!], [0]);
});
