/**
 * Redis expiry arguments as Concord write fields. A relative TTL (EX, PX,
 * EXPIRE) becomes the write's `ttlMs`, which the state machine turns into an
 * absolute time from the leader's entry time (as Redis rewrites EXPIRE to
 * PEXPIREAT for its replicas); an absolute one (EXAT, PXAT, EXPIREAT) is kept
 * as given. The limits are Redis's (64-bit milliseconds) and Concord's (a
 * key's own TTL is at most KEY_TTL_MS_MAX, times are safe integers).
 */
import { KEY_TTL_MS_MAX } from '../kv/index.js';
import { reply } from '../resp/index.js';
import { RedisReplyError, RedisText } from './redis-errors.js';

/** A write's expiry fields (kv.put / kv.update / txn put). None of them: the write clears the TTL. */
export interface WriteExpiry {
  readonly ttlMs?: number;
  readonly expiresAtMs?: number;
  readonly keepTtl?: boolean;
}

/** A compare-and-set decision's value that keeps the key's value: only its expiry changes (kv.update keepValue). */
export const KEEP_VALUE = Symbol('keep value');

/**
 * What a compare-and-set writes, decided from the entry read: a new value
 * (put), null (delete), KEEP_VALUE (change only the expiry) or undefined
 * (write nothing), with the write's expiry (none: the TTL is cleared, as SET does).
 */
export interface CasDecision<T> {
  readonly value: Uint8Array | null | undefined | typeof KEEP_VALUE;
  readonly expiry?: WriteExpiry;
  readonly result: T;
}

const LLONG_MAX = 9223372036854775807n;

/** The latest absolute expiry Concord stores (a later one is kept as this: about 285,000 years from now). */
const EXPIRES_AT_MS_MAX = BigInt(Number.MAX_SAFE_INTEGER);

const invalidExpire = (command: string): RedisReplyError => new RedisReplyError(reply.error(`ERR invalid expire time in '${command}' command`));

/** A command argument as Redis's string2ll reads it: a 64-bit signed integer, no sign but '-', no spaces or leading zeros. */
export function integerOf(arg: Buffer): bigint {
  const text = arg.toString('latin1');
  if (text.length > 20 || !/^(0|-?[1-9][0-9]*)$/.test(text)) throw new RedisReplyError(reply.error(RedisText.notInteger));
  const n = BigInt(text);
  if (n > LLONG_MAX || n < -LLONG_MAX - 1n) throw new RedisReplyError(reply.error(RedisText.notInteger));
  return n;
}

/** An absolute expiry in ms, or a relative TTL in ms (from the entry time), as write fields. */
export function expiryFields(atMs: bigint, relativeMs: bigint | null): WriteExpiry {
  if (relativeMs !== null && relativeMs <= BigInt(KEY_TTL_MS_MAX)) return { ttlMs: Number(relativeMs) };
  const at = atMs > EXPIRES_AT_MS_MAX ? EXPIRES_AT_MS_MAX : atMs;
  // A time at or before 0 can only come from a relative TTL that is already past: the key is due at once.
  return { expiresAtMs: at < 1n ? 1 : Number(at) };
}

/**
 * SET's, SETEX's and GETEX's EX|PX|EXAT|PXAT n (Redis's getExpireMillisecondsOrReply): n must be
 * > 0 and the result must fit 64 bits, else `invalid expire time in '<command>' command`.
 */
export function parseSetExpiry(unit: string, amount: Buffer, command: string, nowMs: number): WriteExpiry {
  const n = integerOf(amount);
  const seconds = unit === 'EX' || unit === 'EXAT';
  if (n <= 0n || (seconds && n > LLONG_MAX / 1000n)) throw invalidExpire(command);
  const ms = seconds ? n * 1000n : n;
  const relative = unit === 'EX' || unit === 'PX';
  const now = BigInt(Math.floor(nowMs));
  if (relative && ms > LLONG_MAX - now) throw invalidExpire(command);
  return expiryFields(relative ? now + ms : ms, relative ? ms : null);
}

/**
 * EXPIRE's, PEXPIRE's, EXPIREAT's and PEXPIREAT's time (Redis's expireGenericCommand): the
 * absolute deadline in ms and, for the relative forms, the TTL; may be in the past (the key is
 * then deleted); `invalid expire time` only on 64-bit overflow.
 */
export function parseExpireTime(arg: Buffer, seconds: boolean, relative: boolean, command: string, nowMs: number): { atMs: bigint; relativeMs: bigint | null } {
  let when = integerOf(arg);
  if (seconds) {
    if (when > LLONG_MAX / 1000n || when < -LLONG_MAX / 1000n) throw invalidExpire(command);
    when *= 1000n;
  }
  if (!relative) return { atMs: when, relativeMs: null };
  const now = BigInt(Math.floor(nowMs));
  if (when > LLONG_MAX - now) throw invalidExpire(command);
  return { atMs: now + when, relativeMs: when };
}
