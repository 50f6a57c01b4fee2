/**
 * The short variant of the fault suite inside `npm test`: one case of three
 * real members in network namespaces under a mixed seeded schedule (leader
 * partition, kill -9, SIGSTOP, a leader clock step, a failing disk), checked
 * for linearizability, no lost or unexpected set elements, exactly-once
 * counters, and recovery after healing. Needs root and `ip netns`; skipped
 * with one line saying why otherwise. Longer runs: `npm run test:faults`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseNemeses } from './nemesis.js';
import { unavailableReason } from './netns.js';
import { runCase } from './run-case.js';

const why = unavailableReason();

test('three real members survive a seeded mix of faults: linearizable, nothing lost, exactly-once, recovered', { skip: why === null ? false : `fault suite skipped: ${why}`, timeout: 180_000 }, async () => {
  const resultsDir = mkdtempSync(join(tmpdir(), 'concord-faults-test-'));
  const verdict = await runCase({
    seed: 11,
    members: 3,
    durationS: 16,
    nemeses: parseNemeses('partition-leader,kill,pause,clock-step,disk-fail'),
    resultsDir,
  });
  const explain = `${verdict.problems.join('\n')}\nrerun: ${verdict.rerun}\nresults: ${verdict.dir}`;
  assert.ok(verdict.faults.length >= 2, `the schedule injected only ${verdict.faults.length} faults\n${explain}`);
  assert.deepEqual(verdict.problems, [], explain);
  assert.ok(verdict.ok, explain);
  const register = verdict.checks.find((c) => c.name === 'register');
  assert.equal(register?.result, 'ok', `the register history was not proven linearizable: ${register?.summary}\n${explain}`);
  rmSync(resultsDir, { recursive: true, force: true });
});
