import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { History } from './client.js';
import { CheckResult, checkOperations } from './linearizability.js';
import { RegisterOpKind, registerModel, type RegisterOutput } from './register-model.js';

describe('client history', () => {
  it('settles timed-out operations from what the replicas applied', () => {
    const h = new History();
    const applied = h.call(0, 1, { kind: RegisterOpKind.Write, key: 'x', value: 'a' });
    applied.accepted = true;
    const lost = h.call(1, 1, { kind: RegisterOpKind.Write, key: 'x', value: 'b' });
    lost.accepted = true;
    const read = h.call(2, 1, { kind: RegisterOpKind.Read, key: 'x' });
    h.complete(read, { kind: RegisterOpKind.Read, value: 'a' });
    h.giveUp(applied);
    h.giveUp(lost);
    const neverAccepted = h.call(3, 1, { kind: RegisterOpKind.Cas, key: 'x', expected: 'a', value: 'c' });
    h.giveUp(neverAccepted);
    assert.deepEqual(h.stats(), { total: 4, ok: 1, unknown: 2, discarded: 1 });

    const appliedAt = h.now(); // the first replica applied client 0's write now
    const results = new Map<string, { output: RegisterOutput; time: number; index: number }>([
      ['0:1', { output: { kind: RegisterOpKind.Write }, time: appliedAt, index: 7 }],
    ]);
    const settled = h.settleUnknownOutcomes((c, s) => results.get(`${c}:${s}`));
    assert.deepEqual(settled, { applied: 1, unapplied: 1 });
    const ops = h.operations();
    assert.equal(ops.length, 2);
    const write = ops.find((o) => o.clientId === 0);
    assert.equal(write?.returnTime, appliedAt);
    assert.equal(checkOperations(registerModel, ops).result, CheckResult.Ok);
  });

  it('an applied operation whose client timed out must still be linearized between its call and its first apply', () => {
    const h = new History();
    const read = h.call(2, 1, { kind: RegisterOpKind.Read, key: 'x' });
    h.complete(read, { kind: RegisterOpKind.Read, value: 'a' }); // saw 'a' before the write was even called
    const write = h.call(0, 1, { kind: RegisterOpKind.Write, key: 'x', value: 'a' });
    write.accepted = true;
    h.giveUp(write);
    h.settleUnknownOutcomes(() => ({ output: { kind: RegisterOpKind.Write }, time: h.now(), index: 3 }));
    assert.equal(checkOperations(registerModel, h.operations()).result, CheckResult.Illegal);
  });
});
