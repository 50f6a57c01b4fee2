/**
 * Redis commands that change several keys at once, each one Concord
 * transaction (one log entry, one store revision): MSET, MSETNX, RENAME,
 * RENAMENX, COPY, and DEL/UNLINK of several keys.
 *
 * RENAME reads the source first and then writes under a compare on the
 * source's modRevision (and, for RENAMENX, on the target's absence), tried
 * again when another writer changed them in between; the target takes the
 * source's TTL as an absolute deadline (Redis moves the TTL with the key).
 * COPY does the same without deleting the source.
 */
import type { KeyValue, WireCompare, WireTxnOp } from '../protocol/index.js';
import { type CommandCall, type CommandTable, reply, type Reply } from '../resp/index.js';
import { ConnectionSession } from './connection-session.js';
import type { KvSession } from './kv-session.js';
import { integerOf } from './expiry.js';
import { RedisText, toRedisReply } from './redis-errors.js';
import { CAS_ATTEMPTS_MAX, type RedisCommands } from './string-commands.js';

const modRevisionIs = (key: Uint8Array, modRevision: number): WireCompare => ({ key, target: 'modRevision', op: '=', modRevision });
const absent = (key: Uint8Array): WireCompare => ({ key, target: 'version', op: '=', version: 0 });

export function registerMultiKeyCommands(table: CommandTable, commands: RedisCommands): CommandTable {
  const h = commands.handler.bind(commands);
  // A key named twice takes its last value (as in Redis): one op per key keeps a long MSET within txnOpsMax.
  const pairs = (args: readonly Buffer[]): WireTxnOp[] => {
    const last = new Map<string, WireTxnOp>();
    for (let i = 1; i + 1 < args.length; i += 2) {
      const id = args[i]!.toString('latin1');
      last.delete(id);
      last.set(id, { type: 'put', key: args[i]!, value: args[i + 1]! });
    }
    return [...last.values()];
  };
  const wrongArgs = (name: string): Reply => reply.error(`ERR wrong number of arguments for '${name}' command`);
  return table
    .register('mset', h(async ({ args }, s) => {
      if (args.length % 2 === 0) return wrongArgs('mset');
      await s.serialize(() => s.writeNow('kv.txn', { compare: [], success: pairs(args), failure: [] }));
      return reply.ok;
    }))
    .register('msetnx', h(async ({ args }, s) => {
      if (args.length % 2 === 0) return wrongArgs('msetnx');
      const compare = pairs(args).map((op) => absent(op.key!));
      const result = await s.serialize(() => s.writeNow('kv.txn', { compare, success: pairs(args), failure: [] }));
      return reply.integer(result.succeeded ? 1 : 0);
    }))
    .register('rename', h(async ({ args }, s) => rename(commands, s, args[1]!, args[2]!, false)))
    .register('renamenx', h(async ({ args }, s) => rename(commands, s, args[1]!, args[2]!, true)))
    .register('copy', h(async ({ args }, s) => copy(commands, s, args)))
    .register('del', h(async ({ args }, s) => reply.integer(await deleteKeys(s, args.slice(1)))))
    .register('unlink', h(async ({ args }, s) => reply.integer(await deleteKeys(s, args.slice(1)))));
}

/** DEL/UNLINK: one delete, or one transaction for several keys; the number of keys that existed. */
function deleteKeys(s: KvSession, keys: readonly Buffer[]): Promise<number> {
  // On the live connection the deletes join the batch of its pipelined plain writes (write-batch.ts).
  if (s instanceof ConnectionSession) return s.deleteAll(keys);
  return s.serialize(async () => {
    if (keys.length === 1) return (await s.writeNow('kv.delete', { key: keys[0]! })).deleted ? 1 : 0;
    // A key named twice counts once, as in Redis (the second delete finds nothing).
    const result = await s.writeNow('kv.txn', { compare: [], success: keys.map((key) => ({ type: 'delete', key })), failure: [] });
    return result.results.reduce((n, r) => n + (r.deleted ?? 0), 0);
  });
}

async function rename(commands: RedisCommands, s: KvSession, from: Buffer, to: Buffer, onlyIfAbsent: boolean): Promise<Reply> {
  return s.serialize(async () => {
    for (let attempt = 1; ; attempt++) {
      const source = await commands.get(s, from, false);
      if (source === null) return reply.error(RedisText.noSuchKey);
      if (from.equals(to)) return onlyIfAbsent ? reply.integer(0) : reply.ok;
      const compare = [modRevisionIs(from, source.modRevision)];
      if (onlyIfAbsent) {
        if ((await commands.get(s, to, false)) !== null) return reply.integer(0);
        compare.push(absent(to));
      }
      const result = await s.writeNow('kv.txn', { compare, success: [copyOf(source, to), { type: 'delete', key: from }], failure: [] });
      if (result.succeeded) return onlyIfAbsent ? reply.integer(1) : reply.ok;
      // Another writer changed a key between the read and the transaction: read again.
      if (attempt >= CAS_ATTEMPTS_MAX) return reply.error('ERR rename lost the race to other writers too many times');
    }
  });
}

/** The target's put: the source's value, and its TTL as the absolute deadline it is (Redis copies the TTL). */
function copyOf(source: KeyValue, to: Buffer): WireTxnOp {
  const expiresAtMs = source.expiresAtMs ?? 0;
  return expiresAtMs === 0 ? { type: 'put', key: to, value: source.value } : { type: 'put', key: to, value: source.value, expiresAtMs };
}

/** COPY source destination [DB 0] [REPLACE]: 1 when copied, 0 when the source is missing or the destination exists without REPLACE. */
async function copy(commands: RedisCommands, s: KvSession, args: readonly Buffer[]): Promise<Reply> {
  const [, from, to] = args as [Buffer, Buffer, Buffer];
  let replace = false;
  // Redis's copyCommand: options in any order; DB needs its argument, and there is only database 0 here.
  for (let i = 3; i < args.length; i++) {
    const option = args[i]!.toString('latin1').toLowerCase();
    if (option === 'replace') replace = true;
    else if (option === 'db' && i + 1 < args.length) {
      if (integerOf(args[++i]!) !== 0n) return reply.error('ERR DB index is out of range');
    } else return reply.error(RedisText.syntax);
  }
  if (from.equals(to)) return reply.error('ERR source and destination objects are the same');
  return s.serialize(async () => {
    for (let attempt = 1; ; attempt++) {
      const source = await commands.get(s, from, false);
      if (source === null) return reply.integer(0);
      const compare = [modRevisionIs(from, source.modRevision)];
      if (!replace) {
        if ((await commands.get(s, to, false)) !== null) return reply.integer(0);
        compare.push(absent(to));
      }
      const result = await s.writeNow('kv.txn', { compare, success: [copyOf(source, to)], failure: [] });
      if (result.succeeded) return reply.integer(1);
      // Another writer changed a key between the read and the transaction: read again.
      if (attempt >= CAS_ATTEMPTS_MAX) return reply.error('ERR copy lost the race to other writers too many times');
    }
  });
}
