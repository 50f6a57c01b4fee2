/**
 * INCR, DECR, INCRBY, DECRBY and INCRBYFLOAT: the delta each one sends as a
 * kv `incr` op (src/kv/incr.ts), and the keys of a MULTI queue that only
 * these commands touch. EXEC sends such a key's increments as incr ops
 * decided where the entry applies, instead of reading the key into its
 * overlay: a hot counter incremented inside EXEC then never makes the
 * transaction's read compares fail and run again (multi.ts).
 */
import { parseRedisFloat } from '../kv/index.js';
import { reply, type CommandSpec } from '../resp/index.js';
import { integerOf } from './expiry.js';
import { RedisReplyError, RedisText } from './redis-errors.js';

export const INCREMENT_COMMANDS: ReadonlySet<string> = new Set(['incr', 'decr', 'incrby', 'decrby', 'incrbyfloat']);

const INT64_MIN = -9223372036854775808n;

/** An increment as the incr op takes it: the delta's text, and whether it is INCRBYFLOAT's float. */
export interface Increment {
  readonly by: Buffer;
  readonly float: boolean;
}

/** The increment an INCR-family command asks for; throws Redis's error for a bad argument (before anything is sent). */
export function incrementOf(name: string, args: readonly Buffer[]): Increment {
  switch (name) {
    case 'incr':
      return { by: Buffer.from('1'), float: false };
    case 'decr':
      return { by: Buffer.from('-1'), float: false };
    case 'incrby':
      return { by: Buffer.from(integerOf(args[2]!).toString()), float: false };
    case 'decrby': {
      const by = integerOf(args[2]!);
      if (by === INT64_MIN) throw new RedisReplyError(reply.error('ERR decrement would overflow'));
      return { by: Buffer.from((-by).toString()), float: false };
    }
    case 'incrbyfloat': {
      const text = args[2]!.toString('latin1');
      if (parseRedisFloat(text) === null) throw new RedisReplyError(reply.error(RedisText.notFloat));
      return { by: Buffer.from(text, 'latin1'), float: true };
    }
    default:
      throw new Error(`not an increment command: ${name}`);
  }
}

/** The keys a command names, from its spec's Redis key positions (first, last, step; a negative last counts from the end). */
export function keysOf(spec: CommandSpec, args: readonly Buffer[]): Buffer[] {
  if (spec.firstKey <= 0) return [];
  const last = spec.lastKey < 0 ? args.length + spec.lastKey : Math.min(spec.lastKey, args.length - 1);
  const step = Math.max(1, spec.keyStep);
  const keys: Buffer[] = [];
  for (let i = spec.firstKey; i <= last; i += step) keys.push(args[i]!);
  return keys;
}

/**
 * The keys (as latin1) that only INCR-family commands of `queue` name: no
 * command of the transaction reads them or writes them otherwise, so their
 * increments need not be read first. A command that reaches a key its spec
 * does not name is caught by the overlay (OverlaySession.touchedIncrementOnly).
 */
export function incrementOnlyKeys(queue: readonly { readonly args: readonly Buffer[]; readonly spec: CommandSpec }[]): Set<string> {
  const incremented = new Set<string>();
  const otherwise = new Set<string>();
  for (const { args, spec } of queue) {
    const into = INCREMENT_COMMANDS.has(spec.fullName) ? incremented : otherwise;
    for (const key of keysOf(spec, args)) into.add(key.toString('latin1'));
  }
  for (const id of otherwise) incremented.delete(id);
  return incremented;
}
