/**
 * Users, roles and the auth switch through the real CLI against a real
 * `concord dev` cluster (issue 12 §2): set up with `user add`, `role
 * grant-permission`..., then every refusal exits with its code and a message
 * naming the user and the key, and nothing refused is written; root works;
 * `auth disable` opens the cluster again.
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

describe('concord user/role/auth against a `concord dev` cluster', () => {
  let workDir: string;
  let dev: DevProcess | undefined;
  let env: NodeJS.ProcessEnv;
  const root = { CONCORD_USER: 'root', CONCORD_PASSWORD: 'rootpw' };

  before(async () => {
    workDir = mkdtempSync(join(tmpdir(), 'concord-auth-cli-'));
    const clientPort = await freePortRange(3, peerPortOffset);
    dev = new DevProcess(
      ['--client-port', String(clientPort), '--peer-port', String(clientPort + peerPortOffset), '--metrics-port', '0', '--data-dir', join(workDir, 'dev'), '--heartbeat-interval-ms', '50', '--election-timeout-ms', '300'],
      workDir,
    );
    await dev.ready();
    // Nothing inherited from the shell running the tests.
    env = { CONCORD_ENDPOINTS: [0, 1, 2].map((i) => `tcp://127.0.0.1:${clientPort + i}`).join(','), CONCORD_USER: '', CONCORD_PASSWORD: '' };
  });

  after(() => {
    dev?.killAll();
    rmSync(workDir, { recursive: true, force: true });
  });

  test('set up users and roles, enable auth; each refusal has its exit code and names the user and the key; root works; disable', { timeout: 180_000 }, async () => {
    ok(await concord(['put', 'a/1', 'one'], env), 'put a/1');
    ok(await concord(['put', 'b/x', 'secret'], env), 'put b/x');
    assert.match(ok(await concord(['user', 'add', 'root', '--password', 'rootpw'], env), 'user add root').stdout, /User root created/);
    ok(await concord(['user', 'add', 'reader', '--password-stdin'], env, 'readerpw\n'), 'user add reader --password-stdin');
    ok(await concord(['user', 'add', 'alice', '--password', 'alicepw'], env), 'user add alice');
    ok(await concord(['user', 'add', 'certonly', '--no-password'], env), 'user add --no-password');
    ok(await concord(['role', 'add', 'ro'], env), 'role add ro');
    ok(await concord(['role', 'grant-permission', 'ro', 'read', '', '--from-key'], env), 'grant ro read everything');
    ok(await concord(['role', 'add', 'a-prefix'], env), 'role add a-prefix');
    ok(await concord(['role', 'grant-permission', 'a-prefix', 'readwrite', 'a/', '--prefix'], env), 'grant a-prefix');
    ok(await concord(['role', 'add', 'scratch'], env), 'role add scratch');
    ok(await concord(['role', 'grant-permission', 'scratch', 'write', 'k1', 'k5'], env), 'grant a range');
    ok(await concord(['role', 'revoke-permission', 'scratch', 'k1', 'k5'], env), 'revoke it');
    ok(await concord(['role', 'delete', 'scratch'], env), 'role delete');
    ok(await concord(['user', 'grant-role', 'reader', 'ro'], env), 'grant-role reader');
    ok(await concord(['user', 'grant-role', 'alice', 'a-prefix'], env), 'grant-role alice');
    ok(await concord(['user', 'grant-role', 'alice', 'ro'], env), 'grant-role alice ro');
    ok(await concord(['user', 'revoke-role', 'alice', 'ro'], env), 'revoke-role alice ro');

    // No password and no terminal to ask on: a usage error before anything is sent.
    const noPassword = await concord(['user', 'add', 'bob'], env);
    assert.equal(noPassword.code, ExitCode.Usage, noPassword.stderr);
    assert.match(noPassword.stderr, /no password/);

    assert.match(ok(await concord(['auth', 'enable'], env), 'auth enable').stdout, /Authentication Enabled/);

    // No credentials.
    const anonymous = await concord(['put', 'a/2', 'no'], env);
    assert.equal(anonymous.code, ExitCode.AuthenticationFailed, anonymous.stderr);
    assert.match(anonymous.stderr, /put "a\/2" without a user refused: authentication required.*--user.*CONCORD_ERR_AUTHENTICATION_FAILED/);
    const anonymousRead = await concord(['get', 'a/1'], env);
    assert.equal(anonymousRead.code, ExitCode.AuthenticationFailed, anonymousRead.stderr);

    // Wrong password (and an unknown user: the same refusal).
    for (const user of ['alice:wrong', 'nobody:wrong']) {
      const wrong = await concord(['get', 'a/1', '--user', user], env);
      assert.equal(wrong.code, ExitCode.AuthenticationFailed, wrong.stderr);
      assert.match(wrong.stderr, new RegExp(`get "a/1" as user "${user.split(':')[0]}" refused: authentication failed`));
    }

    // A read-only role writing.
    const readerWrite = await concord(['put', 'a/3', 'no', '--user', 'reader:readerpw'], env);
    assert.equal(readerWrite.code, ExitCode.PermissionDenied, readerWrite.stderr);
    assert.match(readerWrite.stderr, /put "a\/3" as user "reader" refused: permission denied: user "reader" may not write on "a\/3".*CONCORD_ERR_PERMISSION_DENIED/);
    assert.equal(ok(await concord(['get', 'b/x', '--user', 'reader:readerpw'], env), 'reader reads').stdout, 'secret\n');

    // A role on prefix a/ reading b/x (password from CONCORD_PASSWORD), and writing outside its prefix.
    const aliceEnv = { ...env, CONCORD_USER: 'alice', CONCORD_PASSWORD: 'alicepw' };
    const aliceRead = await concord(['get', 'b/x'], aliceEnv);
    assert.equal(aliceRead.code, ExitCode.PermissionDenied, aliceRead.stderr);
    assert.match(aliceRead.stderr, /get "b\/x" as user "alice" refused: permission denied: user "alice" may not read on "b\/x"/);
    const aliceScan = await concord(['scan'], aliceEnv);
    assert.equal(aliceScan.code, ExitCode.PermissionDenied, aliceScan.stderr);
    const aliceWrite = await concord(['put', 'b/y', 'no'], aliceEnv);
    assert.equal(aliceWrite.code, ExitCode.PermissionDenied, aliceWrite.stderr);
    const aliceAdmin = await concord(['user', 'add', 'mallory', '--password', 'x'], aliceEnv);
    assert.equal(aliceAdmin.code, ExitCode.PermissionDenied, aliceAdmin.stderr);
    ok(await concord(['put', 'a/2', 'two'], aliceEnv), 'alice writes inside her prefix');
    assert.equal(ok(await concord(['scan', 'a/'], aliceEnv), 'alice scans her prefix').stdout, 'a/1\tone\na/2\ttwo\n');

    // root works, and sees that nothing refused was written.
    const rootEnv = { ...env, ...root };
    for (const key of ['a/3', 'b/y']) assert.equal((await concord(['get', key], rootEnv)).code, ExitCode.NotFound, `${key} was not written`);
    assert.deepEqual(JSON.parse(ok(await concord(['user', 'list', '--json'], rootEnv), 'user list').stdout), ['alice', 'certonly', 'reader', 'root']);
    assert.equal(ok(await concord(['user', 'list'], rootEnv), 'user list').stdout, 'alice\ncertonly\nreader\nroot\n');
    assert.deepEqual(JSON.parse(ok(await concord(['user', 'get', 'alice', '--json'], rootEnv), 'user get').stdout), { name: 'alice', roles: ['a-prefix'], hasPassword: true });
    assert.equal(JSON.parse(ok(await concord(['user', 'get', 'certonly', '--json'], rootEnv), 'user get').stdout).hasPassword, false);
    assert.deepEqual(JSON.parse(ok(await concord(['role', 'list', '--json'], rootEnv), 'role list').stdout), ['a-prefix', 'ro']);
    assert.equal(ok(await concord(['role', 'get', 'a-prefix'], rootEnv), 'role get').stdout, 'Role a-prefix\nKV Read:\n\t[a/, a0) (prefix a/)\nKV Write:\n\t[a/, a0) (prefix a/)\n');
    assert.deepEqual(JSON.parse(ok(await concord(['role', 'get', 'ro', '--json'], rootEnv), 'role get').stdout).permissions, [{ access: 'read', key: '', rangeEnd: '\u0000' }]);
    const status = JSON.parse(ok(await concord(['auth', 'status', '--json'], rootEnv), 'auth status').stdout);
    assert.equal(status.enabled, true);
    assert.ok(status.revision > 0);
    const missing = await concord(['user', 'get', 'nobody'], rootEnv);
    assert.equal(missing.code, ExitCode.NotFound, missing.stderr);
    assert.match(missing.stderr, /CONCORD_ERR_USER_NOT_FOUND/);
    ok(await concord(['status'], rootEnv), 'status as root');
    const anonymousStatus = await concord(['status'], env);
    assert.equal(anonymousStatus.code, ExitCode.AuthenticationFailed, anonymousStatus.stderr);

    // Password change: the old one stops working.
    ok(await concord(['user', 'passwd', 'reader', '--password-stdin'], rootEnv, 'newpw\n'), 'passwd');
    assert.equal((await concord(['get', 'b/x', '--user', 'reader:readerpw'], env)).code, ExitCode.AuthenticationFailed);
    ok(await concord(['get', 'b/x', '--user', 'reader:newpw'], env), 'the new password works');
    ok(await concord(['user', 'delete', 'reader'], rootEnv), 'user delete');

    assert.match(ok(await concord(['auth', 'disable'], rootEnv), 'auth disable').stdout, /Authentication Disabled/);
    ok(await concord(['put', 'b/y', 'now'], env), 'anyone writes once auth is disabled');
    assert.equal(ok(await concord(['get', 'b/y'], env), 'get b/y').stdout, 'now\n');
    assert.equal(JSON.parse(ok(await concord(['auth', 'status', '--json'], env), 'auth status').stdout).enabled, false);
  });
});
