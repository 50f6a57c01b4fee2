/**
 * What a stored value holds on to. The apply path keeps a value as a view
 * into its log entry only when the entry's buffer holds little else
 * (VALUE_VIEW_EXTRA_BYTES_MAX); otherwise it copies, so a stored value never
 * pins a network frame, a disk batch or Node's shared 8 KiB Buffer pool.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommandKind, KvStateMachine, encodeCommand, type Command } from '../../src/kv/index.js';
import { VALUE_VIEW_EXTRA_BYTES_MAX } from '../../src/kv/key-writes.js';

const put = (key: Uint8Array, value: Uint8Array): Command => ({
  kind: CommandKind.Put,
  key,
  value,
  session: { sessionId: 1, seq: 1, ackedSeq: 0 },
});

function withSession(): KvStateMachine {
  const sm = new KvStateMachine();
  sm.apply(1, encodeCommand({ kind: CommandKind.OpenSession, ttlMs: 0 }, 1));
  return sm;
}

test('an entry that is a window on a larger buffer (a frame, a pool slab) is copied: the value pins only itself', () => {
  const sm = withSession();
  const entry = encodeCommand(put(Uint8Array.of(7), new Uint8Array(256).fill(0x61)), 2);
  const slab = new Uint8Array(8192);
  slab.set(entry, 1000);
  sm.apply(2, slab.subarray(1000, 1000 + entry.length));
  slab.fill(0xee); // the frame's memory is reused for the next read
  const stored = sm.get(Uint8Array.of(7))!;
  assert.deepEqual(stored.value, new Uint8Array(256).fill(0x61));
  assert.equal(stored.value.buffer.byteLength, 256, 'a copy of just the value');
  assert.equal(Object.getPrototypeOf(stored.value), Uint8Array.prototype);
});

test('a Node Buffer entry from the shared pool is copied into a plain Uint8Array', () => {
  const sm = withSession();
  const entry = Buffer.from(encodeCommand(put(Uint8Array.of(7), Buffer.from('pooled value')), 2));
  assert.ok(entry.buffer.byteLength > entry.length + VALUE_VIEW_EXTRA_BYTES_MAX, 'small Buffers share an 8 KiB pool');
  sm.apply(2, entry);
  const stored = sm.get(Uint8Array.of(7))!;
  assert.equal(Buffer.from(stored.value).toString(), 'pooled value');
  assert.notEqual(stored.value.buffer, entry.buffer);
  assert.equal(Object.getPrototypeOf(stored.value), Uint8Array.prototype);
});

test('an entry in its own small buffer (the leader\'s proposal) is kept as a view: no copy, nothing else pinned', () => {
  const sm = withSession();
  const command = encodeCommand(put(Uint8Array.of(7), new Uint8Array(256).fill(0x62)), 2);
  // As the server stores it: a small envelope header, then the command, in one buffer of its own.
  const proposal = new Uint8Array(10 + command.length);
  proposal.set(command, 10);
  sm.apply(2, proposal.subarray(10));
  const stored = sm.get(Uint8Array.of(7))!;
  assert.equal(stored.value.buffer, proposal.buffer, 'a view into the entry');
  assert.ok(stored.value.buffer.byteLength - stored.value.length <= VALUE_VIEW_EXTRA_BYTES_MAX);
  assert.deepEqual(stored.value, new Uint8Array(256).fill(0x62));
});

test('an entry whose buffer holds more than VALUE_VIEW_EXTRA_BYTES_MAX besides the value (a long key) is copied', () => {
  const sm = withSession();
  const longKey = new Uint8Array(VALUE_VIEW_EXTRA_BYTES_MAX + 1).fill(0x6b);
  const entry = encodeCommand(put(longKey, Uint8Array.of(1, 2, 3)), 2);
  sm.apply(2, entry);
  const stored = sm.get(longKey)!;
  assert.notEqual(stored.value.buffer, entry.buffer);
  assert.equal(stored.value.buffer.byteLength, 3);
});

test('an empty value pins nothing, whatever buffer its entry was in', () => {
  const sm = withSession();
  const entry = encodeCommand(put(Uint8Array.of(7), new Uint8Array(0)), 2);
  sm.apply(2, entry);
  assert.equal(sm.get(Uint8Array.of(7))!.value.buffer.byteLength, 0);
});

test('a proposed value is copied into its entry whatever its buffer', () => {
  const sm = new KvStateMachine();
  const value = Uint8Array.of(1, 2, 3);
  sm.apply(1, encodeCommand({ kind: CommandKind.Put, key: Uint8Array.of(7), value }, 1));
  value[0] = 9;
  const stored = sm.get(Uint8Array.of(7))!;
  assert.deepEqual(stored.value, Uint8Array.of(1, 2, 3));
  assert.notEqual(stored.value.buffer, value.buffer);
});
