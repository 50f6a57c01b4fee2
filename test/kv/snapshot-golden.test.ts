import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { KvStateMachine } from '../../src/kv/index.js';
import { runSnapshotScenario } from './snapshot-scenario.js';

/**
 * The snapshot of runSnapshotScenario() as the state machine wrote it when
 * keys were Uint8Arrays (before they became binary strings). Members of one
 * cluster may run either version while it is upgraded: their snapshots must
 * stay byte-identical, so this never changes without a new
 * SNAPSHOT_FORMAT_VERSION.
 */
const GOLDEN_SNAPSHOT_BYTES = 2347;
const GOLDEN_SNAPSHOT_SHA256 = '91bd40a6b5ac90d7055f93bcdcbec335ab3154f7d65b5d1346ae3e5cbc2b7ee1';

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

test('the snapshot format is unchanged: a fixed history gives the same bytes as before keys became strings', () => {
  const d = runSnapshotScenario();
  const bytes = d.sm.snapshot().toBytes();
  assert.equal(bytes.length, GOLDEN_SNAPSHOT_BYTES);
  assert.equal(sha256(bytes), GOLDEN_SNAPSHOT_SHA256);
});

test('a restored golden snapshot writes the same bytes again and serves the same state', () => {
  const d = runSnapshotScenario();
  const bytes = d.sm.snapshot().toBytes();
  const restored = new KvStateMachine(d.sm.options);
  restored.restore([bytes]);
  assert.equal(sha256(restored.snapshot().toBytes()), GOLDEN_SNAPSHOT_SHA256);
  const all = (sm: KvStateMachine) => sm.scan({ limit: 1000 }).entries.map((e) => [Array.from(e.key), Array.from(e.value), e.version, e.createRevision, e.modRevision]);
  assert.deepEqual(all(restored), all(d.sm));
  assert.equal(restored.sessionCount, d.sm.sessionCount);
});
