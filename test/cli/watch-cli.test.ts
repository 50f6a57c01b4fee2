/**
 * `concord watch` and `concord compact` through the real command line
 * against real members: one line (or one JSON object) per event, from a
 * past revision with --rev, previous values with --prev-kv, Ctrl-C stops
 * it with exit 0; a compacted --rev exits 1 naming the revision to use.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { TestCluster, waitFor } from '../server/harness.js';
import { cliMain, concord } from './dev-process.js';

const clusters: TestCluster[] = [];
after(async () => {
  await Promise.all(clusters.map((c) => c.stop()));
});

test('concord watch prints each event on one line until Ctrl-C; concord compact; a compacted --rev exits 1', { timeout: 120_000 }, async () => {
  const cluster = await TestCluster.start({ size: 3 });
  clusters.push(cluster);
  await cluster.waitForLeader();
  const env = { CONCORD_ENDPOINTS: cluster.members.map((m) => m.clientUrl).join(',') };
  assert.equal((await concord(['put', 'cfg/a', 'one'], env)).code, 0);
  assert.equal((await concord(['put', 'cfg/a', 'two\nlines'], env)).code, 0);

  const child = spawn(process.execPath, [cliMain, 'watch', 'cfg/', '--prefix', '--rev', '1', '--prev-kv'], { env: { ...process.env, ...env } });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    await waitFor('the two past events', () => stdout.split('\n').length > 2, 30_000);
    assert.equal((await concord(['del', 'cfg/a'], env)).code, 0);
    await waitFor('the delete', () => stdout.includes('DELETE'), 30_000);
    assert.deepEqual(stdout.trim().split('\n'), ['PUT cfg/a one', 'PUT cfg/a two\\nlines one', 'DELETE cfg/a two\\nlines']);
  } finally {
    child.kill('SIGINT');
  }
  assert.equal(await exited, 0, 'Ctrl-C ends the watch cleanly');

  const json = spawn(process.execPath, [cliMain, 'watch', 'cfg/a', '--rev', '1', '--json'], { env: { ...process.env, ...env } });
  let lines = '';
  json.stdout.on('data', (chunk: Buffer) => (lines += chunk.toString()));
  const jsonExited = new Promise<number | null>((resolve) => json.once('exit', (code) => resolve(code)));
  await waitFor('three JSON events', () => lines.trim().split('\n').length >= 3, 30_000);
  json.kill('SIGINT');
  await jsonExited;
  const events = lines.trim().split('\n').map((l) => JSON.parse(l) as { type: string; key: string; modRevision: number });
  assert.deepEqual(
    events.map((e) => [e.type, e.key, e.modRevision]),
    [
      ['put', 'cfg/a', 1],
      ['put', 'cfg/a', 2],
      ['delete', 'cfg/a', 3],
    ],
  );

  const compact = await concord(['compact', '2'], env);
  assert.equal(compact.code, 0, compact.stderr);
  assert.match(compact.stdout, /compacted revision 2/);
  const old = await concord(['watch', 'cfg/a', '--rev', '2'], env);
  assert.equal(old.code, 1);
  assert.match(old.stderr, /compacted.*revision 3 or later/);
});
