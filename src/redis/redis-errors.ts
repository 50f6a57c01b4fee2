/**
 * Concord errors as Redis error replies, in one place. Redis clients branch
 * on the first word (TRYAGAIN makes cluster clients retry; ERR is final).
 */
import { ConcordError } from '../common/errors.js';
import { ConcordErrorCode as Code } from '../common/error-codes.js';
import { reply, type Reply } from '../resp/index.js';

/** Errors that say the write cannot have reached the log: retrying it (same session and seq) is always safe, and failing it is exact. */
const neverProposed: ReadonlySet<string> = new Set([
  Code.NotLeader,
  Code.Overloaded,
  Code.ShuttingDown,
  Code.Connect,
  Code.ConnectionRefused,
  Code.TooManyPendingCalls,
  Code.SessionsFull,
]);

/** Errors after which the write may or may not have committed: retry with the same seq (applied at most once) until the deadline. */
const maybeApplied: ReadonlySet<string> = new Set([
  Code.LeaderChanged,
  Code.Timeout,
  Code.NetTimeout,
  Code.NetAborted,
  Code.ConnectionClosed,
  Code.ProposalDropped,
]);

export function codeOf(error: unknown): string | null {
  return error instanceof ConcordError ? error.code : ((error as { code?: unknown })?.code as string | undefined) ?? null;
}

export function isRetryable(error: unknown): boolean {
  const code = codeOf(error);
  return code !== null && (neverProposed.has(code) || maybeApplied.has(code));
}

export function mayHaveApplied(error: unknown): boolean {
  const code = codeOf(error);
  return code !== null && maybeApplied.has(code);
}

/** A command gave up: why, in Redis's form. `uncertain`: some attempt may have committed. */
export class RedisReplyError extends Error {
  constructor(readonly reply: Reply) {
    super(reply.type === 'error' ? reply.message : 'redis error');
  }
}

export function tryAgain(): RedisReplyError {
  return new RedisReplyError(reply.error('TRYAGAIN no Raft leader before the deadline; the command was not applied'));
}

export function outcomeUnknown(): RedisReplyError {
  return new RedisReplyError(reply.error('ERR outcome unknown: the write may or may not have been applied (the leader changed before it answered)'));
}

export const RedisText = {
  syntax: 'ERR syntax error',
  notInteger: 'ERR value is not an integer or out of range',
  notFloat: 'ERR value is not a valid float',
  overflow: 'ERR increment or decrement would overflow',
  nanOrInfinity: 'ERR increment would produce NaN or Infinity',
  noSuchKey: 'ERR no such key',
  tooLarge: 'ERR string exceeds maximum allowed size (proto-max-bulk-len)',
  offsetOutOfRange: 'ERR offset is out of range',
  invalidCursor: 'ERR invalid cursor',
} as const;

const isFloatKind = (error: unknown): boolean => (error as { details?: { kind?: unknown } }).details?.kind === 'float';

/** Any error a handler throws, as the reply the client gets. */
export function toRedisReply(error: unknown): Reply {
  if (error instanceof RedisReplyError) return error.reply;
  const code = codeOf(error);
  const message = error instanceof Error ? error.message : String(error);
  switch (code) {
    case Code.PermissionDenied:
      return reply.error(`NOPERM ${message}`);
    // A connection that has not logged in (opened before auth was enabled, or AUTH not sent yet), or whose login
    // a password change or user delete has since invalidated: Redis's texts.
    case Code.AuthenticationFailed:
      return reply.error((error as { details?: { user?: unknown } }).details?.user == null ? 'NOAUTH Authentication required.' : 'WRONGPASS invalid username-password pair or user is disabled.');
    case Code.ValueTooLarge:
      return reply.error(RedisText.tooLarge);
    // The incr op's verdicts (src/kv/incr.ts), in Redis's words for INCR* and INCRBYFLOAT.
    case Code.NotANumber:
      return reply.error(isFloatKind(error) ? RedisText.notFloat : RedisText.notInteger);
    case Code.IncrementOverflow:
      return reply.error(isFloatKind(error) ? RedisText.nanOrInfinity : RedisText.overflow);
    case Code.KeyTooLarge:
    case Code.EmptyKey:
      return reply.error(`ERR ${message}`);
    default:
      if (code !== null && isRetryable(error)) return mayHaveApplied(error) ? outcomeUnknown().reply : tryAgain().reply;
      return reply.error(`ERR ${message}`);
  }
}
