/**
 * The clock rule (issue 12 §3, src/server/entry-clock.ts): a step of the
 * leader's wall clock by +1 h or -1 h neither expires sessions early nor
 * freezes expiry. One in-process member with an injected wall clock that
 * steps (monotonic time and timers stay the system's, as after an NTP step).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { connect, RemoteError, RpcClient } from '../../src/net/index.js';
import { clientMethods, ErrorCode } from '../../src/protocol/index.js';
import { loadServerConfig, startServer } from '../../src/server/index.js';
import { EntryClock } from '../../src/server/entry-clock.js';
import { SkewClock } from '../faults/skew-clock.js';
import { freePort, sleep, utf8, waitFor } from './harness.js';

const hourMs = 3_600_000;

test('EntryClock: a wall step moves entry time by at most the margin; time follows elapsed ticks and never goes back', () => {
  let wall = 1_000_000;
  let mono = 0;
  const clock = { nowMs: () => wall, monotonicMs: () => mono, setTimer: () => ({ cancel() {} }), setRepeating: () => ({ cancel() {} }), schedule() {} };
  const entry = new EntryClock(clock, 1000);
  entry.observeApplied(500_000); // the log's time, from an earlier leader
  mono = 10;
  assert.equal(entry.nowMs(), 500_000 + 10 + 1000); // wall far ahead: projected + margin
  wall += hourMs;
  mono = 5010;
  assert.equal(entry.nowMs(), 500_000 + 5010 + 1000, '+1 h: bounded by elapsed ticks + margin');
  wall -= 2 * hourMs;
  mono = 10_010;
  assert.equal(entry.nowMs(), 500_000 + 10_010 - 1000, '-1 h: still advances with elapsed ticks (minus the margin)');
  mono = 10_011;
  const a = entry.nowMs();
  mono = 10_012;
  assert.ok(entry.nowMs() >= a, 'never goes back');
  // A newer entry from another leader re-anchors on it.
  entry.observeApplied(900_000);
  mono = 10_020;
  assert.equal(entry.nowMs(), 900_000, 'continues from the newer entry (wall is behind: never below the log)');
  mono = 20_020;
  assert.equal(entry.nowMs(), 900_000 + 10_008 - 1000, 'and advances with the ticks since it was applied');
});

for (const stepMs of [hourMs, -hourMs]) {
  test(`leader wall clock steps ${stepMs > 0 ? '+' : '-'}1 h: no session expires early, expiry resumes`, { timeout: 90_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'concord-clock-step-'));
    const clock = new SkewClock();
    const clientUrl = `tcp://127.0.0.1:${await freePort()}`;
    const peerUrl = `tcp://127.0.0.1:${await freePort()}`;
    const config = loadServerConfig({
      flags: { name: 'n1', dataDir: dir, clientUrl, peerUrl, initialCluster: `n1=${peerUrl}`, heartbeatIntervalMs: '20', electionTimeoutMs: '100' },
      env: {},
    });
    const server = await startServer(config, pino({ level: 'silent' }), { clock });
    const connection = await connect(clientUrl);
    const rpc = new RpcClient(connection, clientMethods, { timeoutMs: 5000 });
    try {
      await waitFor('leadership', async () => (await rpc.call('cluster.status', {})).member.role === 'leader');
      // A long-lived session that keeps writing (it moves the clock), and the one under test.
      const writer = (await rpc.call('session.open', { ttlMs: 600_000 })).sessionId;
      let seq = 0;
      const write = () => rpc.call('kv.put', { key: utf8('w'), value: utf8('x'), session: { sessionId: writer, seq: ++seq, ackedSeq: seq - 1 } });
      const ttlMs = 8_000;
      const watched = (await rpc.call('session.open', { ttlMs })).sessionId;
      await write();

      clock.offsetMs += stepMs;
      await write(); // stamped after the step
      // +1 h would have expired `watched` at once; the bound keeps it alive.
      await rpc.call('session.keepAlive', { sessionId: watched });
      const keptAliveAt = performance.now();
      const writeUntil = async (elapsedMs: number) => {
        while (performance.now() - keptAliveAt < elapsedMs) {
          await write();
          await sleep(100);
        }
      };
      // Half a TTL later (writes moving the clock all along) it is alive: nothing expired early.
      await writeUntil(ttlMs / 2);
      await rpc.call('session.keepAlive', { sessionId: watched });
      const renewedAt = performance.now();
      // Expiry resumes: without keep-alives it expires about ttlMs later (entry time may lag or lead elapsed
      // ticks by the 1 s margin); -1 h unbounded would have frozen it for an hour.
      while (performance.now() - renewedAt < ttlMs + 4000) {
        await write();
        await sleep(100);
      }
      await assert.rejects(
        rpc.call('session.keepAlive', { sessionId: watched }),
        (error: unknown) => error instanceof RemoteError && error.code === ErrorCode.SessionExpired,
      );
    } finally {
      connection.destroy();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
