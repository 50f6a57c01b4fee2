/**
 * docs/client.md's first example, run as written (against the in-process fake
 * cluster instead of tcp://127.0.0.1:7001..7003), so the documentation cannot
 * drift from the API.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { FakeCluster } from './fake-cluster.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const clientIndex = pathToFileURL(fileURLToPath(new URL('../../src/client/index.js', import.meta.url))).href;

test('the example in docs/client.md runs', async () => {
  const markdown = readFileSync(join(repoRoot, 'docs', 'client.md'), 'utf8');
  const example = /```ts\n([\s\S]*?)```/.exec(markdown)?.[1];
  assert.ok(example !== undefined, 'docs/client.md has a ts example');
  const cluster = await FakeCluster.start();
  const dir = mkdtempSync(join(tmpdir(), 'concord-client-doc-'));
  const logged: unknown[][] = [];
  const originalLog = console.log;
  try {
    const source = example
      .replace("'./src/client/index.js'", JSON.stringify(clientIndex))
      .replace(/endpoints: \[[^\]]*\]/, `endpoints: ${JSON.stringify(cluster.urls)}`);
    assert.notEqual(source, example);
    const file = join(dir, 'example.mjs');
    writeFileSync(file, source);
    console.log = (...args: unknown[]) => void logged.push(args);
    await import(pathToFileURL(file).href);
  } finally {
    console.log = originalLog;
    await cluster.close();
    rmSync(dir, { recursive: true, force: true });
  }
  assert.deepEqual(logged[0], ['blue', 1, logged[0]![2], logged[0]![2]]);
  assert.deepEqual(logged[1], ['changed meanwhile: now at version', 1]);
  assert.deepEqual(logged[2], ['no such key']);
  assert.ok(logged.some((line) => line[0] === 'config/color' && line[2] === 'blue'));
  assert.deepEqual(logged.at(-1), ['n1', ['n1:leader', 'n2:follower', 'n3:follower']]);
  // The example deleted its lock and closed its session.
  assert.equal(cluster.store.get(new TextEncoder().encode('config/lock')), null);
  assert.equal(cluster.store.sessions.size, 0);
});
