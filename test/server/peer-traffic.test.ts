/**
 * The leader's peer round-trip samples (peer-traffic.ts): a Heartbeat to the
 * next HeartbeatResponse from that peer, one in flight per peer, at most one
 * begun per sample interval (reads send heartbeats per batch), a lost one
 * replaced after `staleMs`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageType, type Message } from '../../src/raft/index.js';
import { PeerRoundTrips } from '../../src/server/peer-traffic.js';
import type { Clock } from '../../src/common/clock.js';
import { systemClock } from '../../src/common/system-clock.js';

const heartbeat = (to: string): Message => ({ type: MessageType.Heartbeat, from: 'n1', to, term: 1, commit: 0, context: new Uint8Array(0) });
const response = (from: string): Message => ({ type: MessageType.HeartbeatResponse, from, to: 'n1', term: 1, context: new Uint8Array(0) });

test('one round trip timed per peer per sample interval; a lost heartbeat is replaced after staleMs', () => {
  const time = { now: 0 };
  const clock: Clock = { ...systemClock, monotonicMs: () => time.now };
  const seen: [string, number][] = [];
  const rtt = new PeerRoundTrips(clock, { observe: (peer, seconds) => seen.push([peer, seconds]) }, 5000, 1000);
  rtt.sent(heartbeat('n2'));
  rtt.sent(heartbeat('n3'));
  time.now = 2;
  rtt.sent(heartbeat('n2')); // one in flight: the first is still being timed
  rtt.received(response('n2'));
  time.now = 3;
  rtt.received(response('n3'));
  assert.deepEqual(seen, [['n2', 0.002], ['n3', 0.003]]);
  // Heartbeats for a batch of reads, within the interval: not timed.
  time.now = 500;
  rtt.sent(heartbeat('n2'));
  time.now = 501;
  rtt.received(response('n2'));
  assert.equal(seen.length, 2);
  // The interval has passed since n2's last measurement ended (at 2): the next one is timed.
  time.now = 1002;
  rtt.sent(heartbeat('n2'));
  time.now = 1006;
  rtt.received(response('n2'));
  assert.deepEqual(seen[2], ['n2', 0.004]);
  // Lost: no answer; a heartbeat after staleMs starts a new measurement.
  time.now = 3000;
  rtt.sent(heartbeat('n3'));
  time.now = 8001;
  rtt.sent(heartbeat('n3'));
  time.now = 8011;
  rtt.received(response('n3'));
  assert.deepEqual(seen[3], ['n3', 0.01]);
  // Other messages are not heartbeats.
  rtt.received({ ...response('n2'), type: MessageType.AppendEntriesResponse } as unknown as Message);
  assert.equal(seen.length, 4);
});
