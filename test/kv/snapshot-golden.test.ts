import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { KvStateMachine, ResultKind } from '../../src/kv/index.js';
import { b } from './helpers.js';
import { runSnapshotScenario } from './snapshot-scenario.js';
import { FORMAT_1_SCENARIO_APPLIED, FORMAT_1_SCENARIO_BASE64 } from './snapshot-fixtures.js';

/**
 * The format-3 snapshot of runSnapshotScenario() (store revision and lease
 * count in META, a lease and a TTL deadline per entry, session owners). Members of one cluster may run different builds while it
 * is upgraded: their snapshots must stay byte-identical, so this never
 * changes without a new SNAPSHOT_FORMAT_VERSION.
 */
const GOLDEN_SNAPSHOT_BYTES = 2439;
const GOLDEN_SNAPSHOT_SHA256 = '610996fe0ddc8a27b2ae88bf05294a9a39323c3967d3632fec6086dd02cc4d33';

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

test('the snapshot format is unchanged: a fixed history gives the same format-3 bytes', () => {
  const d = runSnapshotScenario();
  const bytes = d.sm.snapshot().toBytes();
  assert.equal(bytes[4], 3, 'format version byte');
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

test('a format-1 snapshot (index-based revisions, written before the store revision) still restores: revision = its appliedIndex', () => {
  const d = runSnapshotScenario();
  const old = new KvStateMachine(d.sm.options);
  old.restore([Buffer.from(FORMAT_1_SCENARIO_BASE64, 'base64')]);
  assert.equal(old.appliedIndex, FORMAT_1_SCENARIO_APPLIED);
  assert.equal(old.revision, FORMAT_1_SCENARIO_APPLIED, 'at least every index-based revision those members answered');
  const shape = (sm: KvStateMachine) => sm.scan({ limit: 1000 }).entries.map((e) => [Array.from(e.key), Array.from(e.value), e.version, e.lease ?? 0]);
  assert.deepEqual(shape(old), shape(d.sm), 'same keys, values and versions; no leases');
  for (const e of old.scan({ limit: 1000 }).entries) assert.ok(e.modRevision <= old.revision && e.createRevision <= e.modRevision);
  assert.equal(old.sessionCount, d.sm.sessionCount);
  // The next write takes the next revision, and the state now snapshots as format 3.
  const next = old.apply(old.appliedIndex + 1, d.log[d.log.length - 2]!); // the scenario's last put, replayed
  assert.equal(next.kind, ResultKind.Write);
  assert.equal((next as { modRevision: number }).modRevision, FORMAT_1_SCENARIO_APPLIED + 1);
  assert.equal(old.snapshot().toBytes()[4], 3);
  assert.equal(old.get(b('\u00e9t\u00e9'))!.version, 2);
});
