/** The per-connection login (src/client/auth.ts): its own deadline, and a refusal that is final. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { authenticatingFactory, LoginRefusedError, loginTimeoutMsDefault } from '../../src/client/auth.js';
import type { RpcChannel } from '../../src/client/channel.js';
import { AuthenticationFailedError } from '../../src/kv/index.js';
import { RemoteError } from '../../src/net/index.js';

/** A channel that records its calls and answers (or refuses) the login. */
function fakeChannel(refuse: boolean): { channel: RpcChannel; calls: { method: string; timeoutMs: number | undefined }[]; destroyed: () => boolean } {
  const calls: { method: string; timeoutMs: number | undefined }[] = [];
  let destroyed = false;
  const channel = {
    call: async (method: string, _request: unknown, options: { timeoutMs?: number }) => {
      calls.push({ method, timeoutMs: options.timeoutMs });
      if (refuse) throw new RemoteError('auth.authenticate', 'CONCORD_ERR_AUTHENTICATION_FAILED', 'authentication failed for user "alice"', { user: 'alice' });
      return { header: {} };
    },
    destroy: () => {
      destroyed = true;
    },
  } as unknown as RpcChannel;
  return { channel, calls, destroyed: () => destroyed };
}

test('a login waits loginTimeoutMs (default 5 s), not the 1 s connect timeout; never less than the connect timeout', async () => {
  const fake = fakeChannel(false);
  await authenticatingFactory(async () => fake.channel, { user: 'alice', password: 'pw' })('tcp://x:1', { timeoutMs: 1_000 });
  assert.deepEqual(fake.calls, [{ method: 'auth.authenticate', timeoutMs: loginTimeoutMsDefault }]);
  assert.equal(loginTimeoutMsDefault, 5_000);
  const short = fakeChannel(false);
  await authenticatingFactory(async () => short.channel, { user: 'alice', password: 'pw' }, 200)('tcp://x:1', { timeoutMs: 1_000 });
  assert.equal(short.calls[0]!.timeoutMs, 1_000);
});

test('a refused login destroys the connection and is final (typed), not a connect failure to retry', async () => {
  const fake = fakeChannel(true);
  await assert.rejects(
    authenticatingFactory(async () => fake.channel, { user: 'alice', password: 'wrong' })('tcp://x:1', { timeoutMs: 1_000 }),
    (error: unknown) => error instanceof LoginRefusedError && error.error instanceof AuthenticationFailedError,
  );
  assert.equal(fake.destroyed(), true);
});
