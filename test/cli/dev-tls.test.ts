/**
 * `concord dev --tls` end to end: mutual TLS between members, TLS with
 * client certificates for clients, and the exact lines it prints work as
 * printed (env and flags). With auth enabled (root by its certificate), a
 * restart still comes up (the status probe presents root's certificate).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePortRange } from '../../src/cli/dev/free-ports.js';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { concord, DevProcess, peerPortOffset, type CliResult } from './dev-process.js';

function ok(result: CliResult, what: string): CliResult {
  assert.equal(result.code, 0, `${what}: exit ${result.code}\n${result.stderr}`);
  return result;
}

/** The `export NAME=value` lines `concord dev --tls` prints, as an environment. */
function exportedEnv(stdout: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const m of stdout.matchAll(/^ {2}export (CONCORD_[A-Z]+)=(.+)$/gm)) env[m[1]!] = m[2]!;
  return env;
}

describe('concord dev --tls', () => {
  let workDir: string;
  let devArgs: string[];
  let clientPort: number;
  const devs: DevProcess[] = [];

  before(async () => {
    workDir = mkdtempSync(join(tmpdir(), 'concord-dev-tls-'));
    clientPort = await freePortRange(3, peerPortOffset);
    devArgs = [
      '--tls',
      '--client-port', String(clientPort),
      '--peer-port', String(clientPort + peerPortOffset),
      '--metrics-port', '0',
      '--data-dir', join(workDir, 'dev'),
      '--heartbeat-interval-ms', '50',
      '--election-timeout-ms', '300',
    ];
  });

  after(() => {
    for (const dev of devs) dev.killAll();
    rmSync(workDir, { recursive: true, force: true });
  });

  test('serves clients over TLS with client certificates; the printed env and flags work; auth by certificate survives a restart', { timeout: 240_000 }, async () => {
    const dev = new DevProcess(devArgs, workDir);
    devs.push(dev);
    await dev.ready();
    assert.match(dev.stdout, /Mutual TLS between members and TLS for clients/);
    assert.match(dev.stdout, /--peer-cert-file \S+member-n1\.crt .*--cert-file \S+member-n1\.crt --key-file \S+ --trusted-ca-file \S+ca\.crt --client-cert-auth/);
    const env = exportedEnv(dev.stdout);
    assert.deepEqual(Object.keys(env).sort(), ['CONCORD_CACERT', 'CONCORD_CERT', 'CONCORD_ENDPOINTS', 'CONCORD_KEY']);
    assert.equal(env['CONCORD_ENDPOINTS'], [0, 1, 2].map((i) => `tls://127.0.0.1:${clientPort + i}`).join(','));

    // As printed: the environment lines...
    ok(await concord(['put', 'hello', 'world'], env), 'put with the printed env');
    assert.equal(ok(await concord(['get', 'hello'], env), 'get').stdout, 'world\n');
    // ...and the flags line.
    const flagsLine = dev.stdout.split('\n').find((line) => line.includes('npx concord get hello --endpoints'));
    assert.ok(flagsLine !== undefined, dev.stdout);
    const flagArgs = flagsLine.trim().split(/\s+/).slice(2);
    assert.equal(ok(await concord(flagArgs, { CONCORD_ENDPOINTS: '' }), 'get with the printed flags').stdout, 'world\n');

    // Without the client certificate, or without TLS at all, there is no connection.
    const noCert = await concord(['get', 'hello', '--timeout', '2000'], { CONCORD_ENDPOINTS: env['CONCORD_ENDPOINTS'], CONCORD_CACERT: env['CONCORD_CACERT'] });
    assert.equal(noCert.code, ExitCode.Failure, noCert.stderr);
    const plain = await concord(['get', 'hello', '--timeout', '2000', '--endpoints', `tcp://127.0.0.1:${clientPort}`], {});
    assert.equal(plain.code, ExitCode.Failure, plain.stderr);
    // A --cert without its --key is a usage error.
    assert.equal((await concord(['get', 'hello', '--cert', env['CONCORD_CERT']!], { ...env, CONCORD_KEY: '' })).code, ExitCode.Usage);

    // Auth by certificate: root (a user without a password) is its certificate's CN.
    ok(await concord(['user', 'add', 'root', '--no-password'], env), 'user add root');
    ok(await concord(['user', 'add', 'alice', '--password', 'alicepw'], env), 'user add alice');
    ok(await concord(['auth', 'enable'], env), 'auth enable');
    ok(await concord(['put', 'hello', 'again'], env), 'root by certificate writes');
    // A password login on the same (certificate) connection acts as that user instead: alice has no role.
    const alice = await concord(['put', 'hello', 'no', '--user', 'alice:alicepw'], env);
    assert.equal(alice.code, ExitCode.PermissionDenied, alice.stderr);
    assert.match(alice.stderr, /user "alice" may not write on "hello"/);

    // A restart over the same data comes up although cluster.status now needs a login.
    dev.child.kill('SIGINT');
    assert.equal(await dev.exited, 0, dev.stderr);
    const again = new DevProcess(devArgs, workDir);
    devs.push(again);
    await again.ready();
    assert.match(again.stdout, /Restarting/);
    assert.equal(ok(await concord(['get', 'hello'], env), 'get after restart').stdout, 'again\n');
    ok(await concord(['auth', 'disable'], env), 'auth disable');
    again.child.kill('SIGINT');
    assert.equal(await again.exited, 0, again.stderr);
  });
});
