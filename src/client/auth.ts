/**
 * Client authentication (issue 12 §2): every connection the client opens,
 * the first one and every reconnect, logs in with `auth.authenticate` before
 * it carries any call, so a member never sees a request from this client
 * on an unauthenticated connection. A refused login fails the connect with
 * the member's error (AuthenticationFailedError once rebuilt by the retry
 * loop: not retried, since retrying cannot fix a wrong password).
 */
import { RemoteError } from '../net/index.js';
import type { ChannelFactory } from './channel.js';
import { errorFromRemote } from './errors.js';

export interface AuthCredentials {
  readonly user: string;
  readonly password: string;
}

/**
 * How long a login may take by default. More than a connect: the member first
 * catches up with the leader (a ReadIndex round) and then runs scrypt on a
 * bounded pool, which on a loaded machine can take well over a second; a login
 * cut short is retried elsewhere and costs another hash.
 */
export const loginTimeoutMsDefault = 5_000;

export function authenticatingFactory(factory: ChannelFactory, auth: AuthCredentials, loginTimeoutMs = loginTimeoutMsDefault): ChannelFactory {
  return async (address, options) => {
    const channel = await factory(address, options);
    try {
      await channel.call('auth.authenticate', { user: auth.user, password: auth.password }, { timeoutMs: Math.max(options.timeoutMs, loginTimeoutMs) });
    } catch (error) {
      channel.destroy();
      // A refusal is final (typed, e.g. AuthenticationFailedError); a lost connection is retried as any connect failure.
      if (error instanceof RemoteError) throw new LoginRefusedError(errorFromRemote(error.code, error.message, error.details));
      throw error;
    }
    return channel;
  };
}

/** A member refused this client's login: the call fails with `error`, not retried elsewhere. */
export class LoginRefusedError extends Error {
  constructor(readonly error: Error) {
    super(error.message);
  }
}
