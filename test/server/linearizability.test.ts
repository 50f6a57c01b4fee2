/**
 * Real processes, recorded client history, linearizability checked (the
 * simulator's WGL checker and register model): concurrent writes and
 * linearizable reads on a few keys, sent to every member (followers forward),
 * while the leader is killed with SIGKILL and later restarted.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { RemoteError } from '../../src/net/index.js';
import { isRetryableCode } from '../../src/protocol/index.js';
import { checkOperations, CheckResult } from '../sim/linearizability.js';
import { registerModel, RegisterOpKind, type RegisterOperation } from '../sim/register-model.js';
import { TestCluster, sleep, text, utf8 } from './harness.js';

let cluster: TestCluster | undefined;
after(async () => {
  await cluster?.stop();
});

test('the history of writes and linearizable reads through any member, across a leader crash, is linearizable', { timeout: 180_000 }, async () => {
  cluster = await TestCluster.start({ size: 3 });
  const c = cluster;
  const keys = ['a', 'b', 'c', 'd'];
  const clients = 8;
  const opsPerClient = 60;
  const history: RegisterOperation[] = [];
  const now = () => performance.now();
  let completed = 0;
  let killed: string | null = null;

  const runClient = async (clientId: number): Promise<void> => {
    const sessionId = await c.openSession();
    let seq = 0;
    for (let i = 0; i < opsPerClient; i++) {
      const key = keys[(clientId * 7 + i * 3) % keys.length]!;
      const live = c.members.filter((m) => m.process !== null);
      const member = live[(clientId + i) % live.length]!.name;
      const callTime = now();
      if (i % 2 === 0) {
        seq++;
        const value = `c${clientId}-${i}`;
        const request = { key: utf8(key), value: utf8(value), session: { sessionId, seq, ackedSeq: seq - 1 } };
        let returned = false;
        try {
          // One attempt at a chosen member, then retries of the same request anywhere.
          await c.call(member, 'kv.put', request, 3000).catch((error: unknown) => {
            if (error instanceof RemoteError && !isRetryableCode(error.code)) throw error;
            return c.callAny('kv.put', request, 20_000);
          });
          returned = true;
        } catch {
          // Unknown outcome: it may take effect at any point after its call, or never.
        }
        history.push({
          clientId,
          input: { kind: RegisterOpKind.Write, key, value },
          callTime,
          returnTime: returned ? now() : undefined,
          output: returned ? { kind: RegisterOpKind.Write } : undefined,
        });
      } else {
        try {
          const got = await c.call(member, 'kv.get', { key: utf8(key), consistency: 'linearizable' }, 3000);
          history.push({
            clientId,
            input: { kind: RegisterOpKind.Read, key },
            callTime,
            returnTime: now(),
            output: { kind: RegisterOpKind.Read, value: got.kv === null ? null : text(got.kv.value) },
          });
        } catch {
          // A failed read observed nothing: leave it out (it has no effect).
        }
      }
      completed++;
    }
  };

  const crash = (async () => {
    while (completed < (clients * opsPerClient) / 3) await sleep(10);
    killed = await c.waitForLeader();
    await c.kill(killed);
    while (completed < (clients * opsPerClient * 2) / 3) await sleep(10);
    await c.restart(killed);
  })();
  await Promise.all([...Array.from({ length: clients }, (_, id) => runClient(id)), crash]);
  assert.ok(killed !== null);

  const outcome = checkOperations(registerModel, history);
  assert.equal(
    outcome.result,
    CheckResult.Ok,
    `history not linearizable: ${outcome.failedPartition?.map((op) => registerModel.describeOperation?.(op)).join('\n')}`,
  );
  const reads = history.filter((op) => op.input.kind === RegisterOpKind.Read).length;
  assert.ok(reads > clients * opsPerClient * 0.3, `enough reads were answered (${reads})`);
});
