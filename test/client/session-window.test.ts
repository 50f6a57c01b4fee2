/**
 * ClientSession keeps its outstanding seqs in a growable bitmap ring rather
 * than a Set; these tests hold it to the Set model it replaced: the same
 * ackedSeq, outstanding count and membership after any sequence of
 * allocations and settles, including windows far wider than the ring's
 * initial size (a write held back while thousands of newer ones complete).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ClientSession } from '../../src/client/session.js';

/** The obvious model: a Set of outstanding seqs. */
class SetModel {
  nextSeq = 1;
  readonly outstanding = new Set<number>();

  allocate(): number {
    const seq = this.nextSeq++;
    this.outstanding.add(seq);
    return seq;
  }

  settle(seq: number): void {
    this.outstanding.delete(seq);
  }

  get ackedSeq(): number {
    let lowest = this.nextSeq;
    for (const seq of this.outstanding) lowest = Math.min(lowest, seq);
    return lowest - 1;
  }
}

type Command =
  | { readonly kind: 'allocate'; readonly count: number }
  | { readonly kind: 'settle-oldest' }
  | { readonly kind: 'settle-nth'; readonly pick: number }
  | { readonly kind: 'settle-some'; readonly modulus: number; readonly salt: number; readonly keepOldest: boolean }
  | { readonly kind: 'settle-any'; readonly seq: number };

const command: fc.Arbitrary<Command> = fc.oneof(
  fc.record({ kind: fc.constant('allocate' as const), count: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1000, max: 5000 })) }),
  fc.record({ kind: fc.constant('settle-oldest' as const) }),
  fc.record({ kind: fc.constant('settle-nth' as const), pick: fc.nat() }),
  fc.record({
    kind: fc.constant('settle-some' as const),
    modulus: fc.integer({ min: 1, max: 5 }),
    salt: fc.nat(),
    keepOldest: fc.boolean(),
  }),
  // Seqs never allocated, already settled, zero, negative or fractional: settling them changes nothing.
  fc.record({ kind: fc.constant('settle-any' as const), seq: fc.oneof(fc.integer({ min: -3, max: 30_000 }), fc.double({ min: 0, max: 100, noNaN: true })) }),
);

function check(session: ClientSession, model: SetModel): void {
  assert.equal(session.ackedSeq, model.ackedSeq);
  assert.equal(session.outstandingCount, model.outstanding.size);
}

test('the seq window agrees with a Set of outstanding seqs under any allocate/settle sequence', () => {
  fc.assert(
    fc.property(fc.array(command, { maxLength: 40 }), (commands) => {
      const session = new ClientSession(1, 60_000);
      const model = new SetModel();
      for (const c of commands) {
        switch (c.kind) {
          case 'allocate':
            for (let i = 0; i < c.count; i++) assert.equal(session.allocateSeq(), model.allocate());
            break;
          case 'settle-oldest': {
            const seq = model.ackedSeq + 1;
            session.settle(seq);
            model.settle(seq);
            break;
          }
          case 'settle-nth': {
            const seqs = [...model.outstanding];
            if (seqs.length === 0) break;
            const seq = seqs[c.pick % seqs.length]!;
            session.settle(seq);
            model.settle(seq);
            break;
          }
          case 'settle-some': {
            const oldest = model.ackedSeq + 1;
            for (const seq of [...model.outstanding]) {
              if ((c.keepOldest && seq === oldest) || (seq + c.salt) % c.modulus !== 0) continue;
              session.settle(seq);
              model.settle(seq);
            }
            break;
          }
          case 'settle-any':
            session.settle(c.seq);
            model.settle(c.seq);
            break;
        }
        check(session, model);
      }
      for (let seq = -1; seq <= model.nextSeq + 1; seq++) assert.equal(session.isOutstanding(seq), model.outstanding.has(seq), `seq ${seq}`);
    }),
    { numRuns: 150 },
  );
});

test('one write held back while 100,000 newer ones complete: ackedSeq stays below it, then jumps past them all', () => {
  const session = new ClientSession(1, 60_000);
  const held = session.allocateSeq();
  for (let i = 0; i < 100_000; i++) session.settle(session.allocateSeq());
  assert.equal(session.ackedSeq, held - 1);
  assert.equal(session.outstandingCount, 1);
  assert.ok(session.isOutstanding(held));
  session.settle(held);
  assert.equal(session.ackedSeq, 100_001);
  assert.equal(session.outstandingCount, 0);
  assert.equal(session.allocateSeq(), 100_002);
});
