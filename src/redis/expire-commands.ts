/**
 * Redis's TTL commands over Concord's per-key TTLs: SETEX, PSETEX, GETEX,
 * EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT [NX|XX|GT|LT], TTL, PTTL, EXPIRETIME,
 * PEXPIRETIME, PERSIST.
 *
 * Deterministic expiry: a relative TTL travels as `ttlMs` and the state
 * machine makes it absolute from the leader's entry time; every member then
 * hides the key from that time on, and the leader proposes its deletion
 * through the log. A change of the TTL alone is a compare-and-set on the
 * key's modRevision with `keepValue` (the value is not sent again), so the
 * NX|XX|GT|LT decision and the write are one atomic step.
 */
import { type CommandCall, type CommandTable, reply, type Reply } from '../resp/index.js';
import type { KeyValue } from '../protocol/index.js';
import type { KvSession } from './kv-session.js';
import { expiryFields, KEEP_VALUE, parseExpireTime, parseSetExpiry, type CasDecision, type WriteExpiry } from './expiry.js';
import { RedisText, toRedisReply } from './redis-errors.js';
import type { RedisCommands } from './string-commands.js';

/** The key's expiry time in ms, or -1 when it has none (Redis's getExpire). */
export const expiryOf = (entry: KeyValue): number => (entry.expiresAtMs ?? 0) === 0 ? -1 : entry.expiresAtMs!;

type ExpireCondition = 'NX' | 'XX' | 'GT' | 'LT' | null;

/** Redis's parseExtendedExpireArgumentsOrReply: the texts of its option errors. */
function expireCondition(args: readonly Buffer[]): ExpireCondition | Reply {
  let nx = false;
  let xx = false;
  let gt = false;
  let lt = false;
  for (const arg of args) {
    const opt = arg.toString('latin1').toUpperCase();
    if (opt === 'NX') nx = true;
    else if (opt === 'XX') xx = true;
    else if (opt === 'GT') gt = true;
    else if (opt === 'LT') lt = true;
    else return reply.error(`ERR Unsupported option ${arg.toString('utf8')}`);
  }
  if (nx && (xx || gt || lt)) return reply.error('ERR NX and XX, GT or LT options at the same time are not compatible');
  if (gt && lt) return reply.error('ERR GT and LT options at the same time are not compatible');
  return nx ? 'NX' : xx ? 'XX' : gt ? 'GT' : lt ? 'LT' : null;
}

/** Whether the condition lets the new deadline replace `current` (-1: none, which GT/LT treat as infinite). */
function conditionHolds(condition: ExpireCondition, current: number, newAtMs: bigint): boolean {
  switch (condition) {
    case 'NX':
      return current === -1;
    case 'XX':
      return current !== -1;
    case 'GT':
      return current !== -1 && newAtMs > BigInt(current);
    case 'LT':
      return current === -1 || newAtMs < BigInt(current);
    default:
      return true;
  }
}

export function registerExpireCommands(table: CommandTable, commands: RedisCommands): CommandTable {
  const clock = (): number => commands.nowMs();
  const h = commands.handler.bind(commands);

  const setWithTtl = (unit: 'EX' | 'PX', command: string) =>
    h(async ({ args }, s) => {
      const expiry = parseSetExpiry(unit, args[2]!, command, clock());
      await s.serialize(() => s.writeNow('kv.put', { key: args[1]!, value: args[3]!, ...expiry }));
      return reply.ok;
    });

  /** EXPIRE family: 1 when the TTL was set (or the key deleted for a deadline already past), 0 otherwise. */
  const expire = (seconds: boolean, relative: boolean, command: string) =>
    h(async ({ args }, s) => {
      const condition = expireCondition(args.slice(3));
      if (typeof condition === 'object' && condition !== null) return condition;
      const now = clock();
      const { atMs, relativeMs } = parseExpireTime(args[2]!, seconds, relative, command, now);
      const changed = await commands.cas(s, args[1]!, (old): CasDecision<number> => {
        if (old === null || !conditionHolds(condition, expiryOf(old), atMs)) return { value: undefined, result: 0 };
        // A deadline already past deletes the key (Redis's checkAlreadyExpired).
        if (atMs <= BigInt(now)) return { value: null, result: 1 };
        return { value: KEEP_VALUE, expiry: expiryFields(atMs, relativeMs), result: 1 };
      });
      return reply.integer(changed);
    });

  const remaining = (unitMs: 1 | 1000, absolute: boolean) =>
    h(async ({ args }, s) => {
      const entry = await commands.get(s, args[1]!, true);
      if (entry === null) return reply.integer(-2);
      const at = expiryOf(entry);
      if (at === -1) return reply.integer(-1);
      if (absolute) return reply.integer(Math.floor(at / unitMs));
      const ms = Math.max(0, at - clock());
      return reply.integer(unitMs === 1 ? ms : Math.floor((ms + 500) / 1000));
    });

  return table
    .register('setex', setWithTtl('EX', 'setex'))
    .register('psetex', setWithTtl('PX', 'psetex'))
    .register('getex', h((call, s) => getEx(call, s, commands, clock())))
    .register('expire', expire(true, true, 'expire'))
    .register('pexpire', expire(false, true, 'pexpire'))
    .register('expireat', expire(true, false, 'expireat'))
    .register('pexpireat', expire(false, false, 'pexpireat'))
    .register('ttl', remaining(1000, false))
    .register('pttl', remaining(1, false))
    .register('expiretime', remaining(1000, true))
    .register('pexpiretime', remaining(1, true))
    .register(
      'persist',
      h(async ({ args }, s) =>
        reply.integer(
          await commands.cas(s, args[1]!, (old): CasDecision<number> =>
            old === null || expiryOf(old) === -1 ? { value: undefined, result: 0 } : { value: KEEP_VALUE, expiry: {}, result: 1 },
          ),
        ),
      ),
    );
}

/** GETEX key [EX|PX|EXAT|PXAT n|PERSIST]: the value, and the TTL changed as the option says. */
async function getEx({ args }: CommandCall, s: KvSession, commands: RedisCommands, nowMs: number): Promise<Reply> {
  let unit: string | null = null;
  let amount: Buffer | null = null;
  let persist = false;
  for (let i = 2; i < args.length; i++) {
    const opt = args[i]!.toString('latin1').toUpperCase();
    if ((opt === 'EX' || opt === 'PX' || opt === 'EXAT' || opt === 'PXAT') && unit === null && !persist && i + 1 < args.length) {
      unit = opt;
      amount = args[++i]!;
    } else if (opt === 'PERSIST' && unit === null && !persist) persist = true;
    else return reply.error(RedisText.syntax);
  }
  const expiry: WriteExpiry | null = unit === null ? null : parseSetExpiry(unit, amount!, 'getex', nowMs);
  const value = await commands.cas(s, args[1]!, (old): CasDecision<Uint8Array | null> => {
    if (old === null) return { value: undefined, result: null };
    if (persist) return expiryOf(old) === -1 ? { value: undefined, result: old.value } : { value: KEEP_VALUE, expiry: {}, result: old.value };
    if (expiry === null) return { value: undefined, result: old.value };
    // An absolute time already past deletes the key, as Redis does.
    if (expiry.expiresAtMs !== undefined && expiry.expiresAtMs <= nowMs) return { value: null, result: old.value };
    return { value: KEEP_VALUE, expiry, result: old.value };
  });
  return reply.bulkOrNull(value);
}
