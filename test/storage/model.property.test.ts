/**
 * Property test: random sequences of append (with conflicting-suffix
 * truncation), hard state, local snapshot + compaction, installed snapshot
 * (Raft §7 both ways), restart and crash give the same log as a plain
 * in-memory model.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DurableStorage } from '../../src/storage/durable-storage.js';
import { SimulatedDisk } from '../../src/testing/simulated-disk.js';
import type { HardState } from '../../src/raft/types.js';
import { collect, entry, meta, text } from './helpers.js';

type Op =
  | { kind: 'append'; at: number; count: number; bump: boolean }
  | { kind: 'hardState'; term: number; vote: string | null; commit: number }
  | { kind: 'snapshot'; at: number }
  | { kind: 'install'; at: number; matching: boolean }
  | { kind: 'restart' }
  | { kind: 'crash' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('append' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }), bump: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('hardState' as const), term: fc.nat(50), vote: fc.option(fc.constantFrom('n1', 'n2', 'n3')), commit: fc.nat(100) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('snapshot' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('install' as const), at: fc.nat(), matching: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'restart' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'crash' as const }) },
);

class Model {
  snapIndex = 0;
  snapTerm = 0;
  snapData = '';
  /** Entries after the snapshot: terms[i] is the term of index snapIndex + 1 + i. */
  terms: number[] = [];
  hardState: HardState = { term: 0, vote: null, commit: 0 };

  get lastIndex(): number {
    return this.snapIndex + this.terms.length;
  }
  termOf(index: number): number {
    return index === this.snapIndex ? this.snapTerm : this.terms[index - this.snapIndex - 1]!;
  }
}

async function check(s: DurableStorage, m: Model, step: string): Promise<void> {
  assert.equal(s.firstIndex(), m.snapIndex + 1, `${step}: firstIndex`);
  assert.equal(s.lastIndex(), m.lastIndex, `${step}: lastIndex`);
  assert.equal(s.term(m.snapIndex), m.snapTerm, `${step}: term at snapshot`);
  const got = s.entries(m.snapIndex + 1, m.lastIndex + 1, Infinity);
  assert.deepEqual(
    got.map((e) => `${e.index}/${e.term}/${text(e)}`),
    m.terms.map((t, i) => `${m.snapIndex + 1 + i}/${t}/e${m.snapIndex + 1 + i}t${t}`),
    `${step}: entries`,
  );
  for (let i = m.snapIndex + 1; i <= m.lastIndex; i++) assert.equal(s.term(i), m.termOf(i));
  assert.deepEqual(s.hardState(), m.hardState, `${step}: hard state`);
  assert.equal(s.snapshotMetadata().index, m.snapIndex, `${step}: snapshot index`);
  if (m.snapIndex > 0) assert.equal((await collect(s.readSnapshot())).toString(), m.snapData, `${step}: snapshot data`);
}

describe('DurableStorage against an in-memory model', () => {
  it('random append / truncate / snapshot / install / restart / crash sequences', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), fc.integer({ min: 200, max: 2000 }), async (ops, segmentBytesMax) => {
        const disk = new SimulatedDisk({ seed: ++run });
        const options = { dir: '/data', disk, segmentBytesMax, entryCacheBytesMax: 40 };
        let s = await DurableStorage.open(options);
        const m = new Model();
        try {
          for (const [n, op] of ops.entries()) {
            const step = `op ${n} ${JSON.stringify(op)}`;
            switch (op.kind) {
              case 'append': {
                // Anywhere from the first index to one past the end: below the end truncates (§5.3).
                const first = m.snapIndex + 1 + (op.at % (m.terms.length + 1));
                const term = m.termOf(first - 1) + (op.bump ? 1 : 0) || 1;
                const batch = Array.from({ length: op.count }, (_, k) => entry(first + k, term));
                await s.append({ entries: batch });
                m.terms.length = first - m.snapIndex - 1;
                for (let k = 0; k < op.count; k++) m.terms.push(term);
                break;
              }
              case 'hardState':
                await s.append({ hardState: { term: op.term, vote: op.vote, commit: op.commit } });
                m.hardState = { term: op.term, vote: op.vote, commit: op.commit };
                break;
              case 'snapshot': {
                if (m.terms.length === 0) break;
                const index = m.snapIndex + 1 + (op.at % m.terms.length);
                const data = `snapshot ${index}`;
                const term = m.termOf(index);
                await s.saveSnapshot(meta(index, term), [Buffer.from(data)]);
                m.terms = m.terms.slice(index - m.snapIndex);
                m.snapIndex = index;
                m.snapTerm = term;
                m.snapData = data;
                break;
              }
              case 'install': {
                const index = m.snapIndex + 1 + (op.at % (m.terms.length + 3));
                const has = index <= m.lastIndex;
                const term = has && op.matching ? m.termOf(index) : Math.max(m.termOf(m.lastIndex), 1) + 1;
                const data = `installed ${index}/${term}`;
                await s.persist({
                  snapshotChunks: [
                    { index, term, offset: 0, data: Buffer.from(data.slice(0, 4)), done: false },
                    { index, term, offset: 4, data: Buffer.from(data.slice(4)), done: true },
                  ],
                  snapshot: meta(index, term),
                  entries: [],
                });
                if (has && m.termOf(index) === term) m.terms = m.terms.slice(index - m.snapIndex);
                else m.terms = [];
                m.snapIndex = index;
                m.snapTerm = term;
                m.snapData = data;
                break;
              }
              case 'restart':
                await s.close();
                s = await DurableStorage.open(options);
                break;
              case 'crash':
                // Everything above was acknowledged, so a power cut must keep all of it.
                disk.crash({ tear: true });
                s = await DurableStorage.open(options);
                break;
            }
            await check(s, m, step);
          }
        } finally {
          await s.close().catch(() => {});
        }
      }),
      { numRuns: 150, seed: 20261126 },
    );
  });
});
