/**
 * Redis string and keyspace commands over the key-value API. A Redis key is
 * a Concord key (one keyspace); values are strings. The INCR family is one
 * `incr` write the state machine decides at apply time (src/kv/incr.ts), so
 * it joins the connection's write batch and never races. Other
 * read-modify-write commands (APPEND, SET ... GET, GETDEL) are a
 * compare-and-set on the key's modRevision, repeated while another writer
 * wins the race: each attempt is one write under its own seq, and only the
 * winning one changes the key.
 */
import { ConcordErrorCode as Code } from '../common/error-codes.js';
import { CommandFlag, type CommandCall, type CommandTable, reply, type Reply } from '../resp/index.js';
import { incrementedValue } from '../kv/index.js';
import type { KeyValue } from '../protocol/index.js';
import type { RedisBackend } from './backend.js';
import { ConnectionSession } from './connection-session.js';
import type { KvSession } from './kv-session.js';
import { codeOf, RedisReplyError, RedisText, toRedisReply } from './redis-errors.js';
import { globMatch } from './glob.js';
import { integerOf as integerArg, KEEP_VALUE, parseSetExpiry, type CasDecision, type WriteExpiry } from './expiry.js';
import { registerExpireCommands } from './expire-commands.js';
import { registerMultiKeyCommands } from './multikey-commands.js';
import { Transactions } from './multi.js';
import { incrementOf } from './increments.js';

/** How often a compare-and-set command tries again after losing a race, before it reports a conflict. */
export const CAS_ATTEMPTS_MAX = 1_000;
const EMPTY = Buffer.alloc(0);
/** A write that keeps the key's TTL (INCR, APPEND, SETRANGE, SET KEEPTTL). */
const KEEP_TTL: WriteExpiry = Object.freeze({ keepTtl: true });
/** Keys read per kv.scan page by KEYS, SCAN, DBSIZE and FLUSHDB. */
const SCAN_PAGE_KEYS = 1_000;
/** Open SCAN cursors remembered per member (the oldest is forgotten first: its cursor then answers invalid cursor). */
export const SCAN_CURSORS_MAX = 10_000;

/** An increment's reply from the new value: an integer, or INCRBYFLOAT's bulk text. */
export function incrementedReply(value: Uint8Array, float: boolean): Reply {
  const text = Buffer.from(value).toString('latin1');
  return float ? reply.bulk(text) : reply.integer(BigInt(text));
}

const fail = (text: string): never => {
  throw new RedisReplyError(reply.error(text));
};


export class RedisCommands {
  private readonly sessions = new Map<number, ConnectionSession>();
  private readonly overlays = new Map<number, KvSession>();
  private readonly transactions = new Transactions(this);
  private readonly cursors = new Map<string, Buffer>();
  /**
   * Per-key queues of this member's read-modify-write commands: fifty
   * connections APPENDing to one key take turns here instead of racing (each race
   * lost is a wasted log entry); only writers on other members can still win
   * in between, and the compare-and-set catches those. An entry lives while
   * its key has commands queued (bounded by the connections' in-flight bounds).
   */
  private readonly keyQueues = new Map<string, Promise<unknown>>();
  private nextCursor = 1;

  constructor(private readonly backend: RedisBackend) {}

  /**
   * The session a connection's commands run on: while its EXEC runs, the
   * transaction's overlay (multi.ts), else its Concord session.
   */
  sessionOf(connectionId: number): KvSession {
    return this.overlays.get(connectionId) ?? this.liveSessionOf(connectionId);
  }

  /** Runs `body` with the connection's commands on `overlay` (EXEC: the queued commands' handlers). */
  async withOverlay<T>(connectionId: number, overlay: KvSession, body: () => Promise<T>): Promise<T> {
    this.overlays.set(connectionId, overlay);
    try {
      return await body();
    } finally {
      this.overlays.delete(connectionId);
    }
  }

  /** A handler over the connection's session; a thrown error becomes its Redis reply. */
  handler(fn: (call: CommandCall, s: KvSession) => Promise<Reply>): (call: CommandCall) => Promise<Reply> {
    return async (call) => {
      try {
        return await fn(call, this.sessionOf(call.connection.id));
      } catch (error) {
        return toRedisReply(error);
      }
    };
  }

  /** The connection's Concord session, created on first use. */
  liveSessionOf(connectionId: number): ConnectionSession {
    let session = this.sessions.get(connectionId);
    if (session === undefined) {
      session = new ConnectionSession(connectionId, this.backend);
      this.sessions.set(connectionId, session);
    }
    return session;
  }

  /** The socket closed: end its session. */
  closeConnection(connectionId: number): void {
    this.sessions.get(connectionId)?.close();
    this.sessions.delete(connectionId);
    this.transactions.forget(connectionId);
  }

  /** This member's view of the entry clock, which key TTLs are on (it follows the leader's wall clock within a margin). */
  nowMs(): number {
    return this.backend.entryTimeMs();
  }

  get openSessions(): number {
    return this.sessions.size;
  }

  register(table: CommandTable): CommandTable {
    const h = (fn: (call: CommandCall, s: KvSession) => Promise<Reply>) => this.handler(fn);
    return this.transactions.register(registerMultiKeyCommands(registerExpireCommands(table, this), this))
      .register('get', h(async ({ args }, s) => reply.bulkOrNull((await this.get(s, args[1]!, true))?.value)))
      .register('set', h((call, s) => this.set(call, s)))
      .register('setnx', h(async ({ args }, s) => reply.integer((await this.setIfAbsent(s, args[1]!, args[2]!)) ? 1 : 0)))
      .register('getset', h(async ({ args }, s) => reply.bulkOrNull(await this.swap(s, args[1]!, args[2]!))))
      .register('getdel', h(async ({ args }, s) => reply.bulkOrNull(await this.getDel(s, args[1]!))))
      .register('mget', h(async ({ args }, s) => reply.array(await Promise.all(args.slice(1).map(async (k) => reply.bulkOrNull((await this.get(s, k, true))?.value))))))
      .register('exists', h(async ({ args }, s) => reply.integer((await Promise.all(args.slice(1).map((k) => this.get(s, k, true)))).filter((e) => e !== null).length)))
      .register('type', h(async ({ args }, s) => reply.simple((await this.get(s, args[1]!, true)) === null ? 'none' : 'string')))
      .register('strlen', h(async ({ args }, s) => reply.integer((await this.get(s, args[1]!, true))?.value.length ?? 0)))
      .register('append', h(async ({ args }, s) => reply.integer((await this.modify(s, args[1]!, (old) => Buffer.concat([old ?? Buffer.alloc(0), args[2]!]))).length)))
      .register('incr', h((call, s) => this.incrementReply(call, s)))
      .register('decr', h((call, s) => this.incrementReply(call, s)))
      .register('incrby', h((call, s) => this.incrementReply(call, s)))
      .register('decrby', h((call, s) => this.incrementReply(call, s)))
      .register('incrbyfloat', h((call, s) => this.incrementReply(call, s)))
      .register('getrange', h(async ({ args }, s) => reply.bulk(getRange((await this.get(s, args[1]!, true))?.value, integerArg(args[2]!), integerArg(args[3]!)))))
      .register('substr', h(async ({ args }, s) => reply.bulk(getRange((await this.get(s, args[1]!, true))?.value, integerArg(args[2]!), integerArg(args[3]!)))))
      .register('setrange', h((call, s) => this.setRange(call, s)))
      .register('keys', h(async ({ args }, s) => reply.array((await this.allKeys(s, args[1]!)).map((k) => reply.bulk(k)))))
      .register('scan', h((call, s) => this.scan(call, s)))
      .register('dbsize', h(async (_call, s) => reply.integer((await this.allKeys(s, null)).length)))
      .register('randomkey', h(async (_call, s) => reply.bulkOrNull(await this.randomKey(s))))
      .register('flushdb', h(async (_call, s) => this.flush(s)), { extraFlags: [CommandFlag.barrier] })
      .register('flushall', h(async (_call, s) => this.flush(s)), { extraFlags: [CommandFlag.barrier] });
  }

  // ------------------------------------------------------------------ building blocks

  /** The key's entry (null: missing or expired); `waitForWrites`: after this connection's earlier writes (outside a serialized body). */
  async get(s: KvSession, key: Buffer, waitForWrites: boolean): Promise<KeyValue | null> {
    const request = { key, consistency: 'linearizable' as const };
    return (waitForWrites ? await s.read('kv.get', request) : await s.readNow('kv.get', request)).kv;
  }

  /**
   * Compare-and-set loop: `decide` sees the current entry and returns the new
   * value (write it), null (delete it) or undefined (leave it); the write is
   * conditional on the modRevision read, so a concurrent writer makes it try again.
   */
  cas<T>(s: KvSession, key: Buffer, decide: (old: KeyValue | null) => CasDecision<T>): Promise<T> {
    return s.serialize(() => this.queuedOnKey(key, () => this.casLoop(s, key, decide)));
  }

  private queuedOnKey<T>(key: Buffer, body: () => Promise<T>): Promise<T> {
    const id = key.toString('latin1');
    const previous = this.keyQueues.get(id) ?? Promise.resolve();
    const run = previous.catch(() => {}).then(body);
    const tail = run.catch(() => {});
    this.keyQueues.set(id, tail);
    void tail.then(() => {
      if (this.keyQueues.get(id) === tail) this.keyQueues.delete(id);
    });
    return run;
  }

  private async casLoop<T>(s: KvSession, key: Buffer, decide: (old: KeyValue | null) => CasDecision<T>): Promise<T> {
    {
      for (let attempt = 1; ; attempt++) {
        const old = await this.get(s, key, false);
        const { value, result, expiry } = decide(old);
        if (value === undefined) return result;
        const expectedModRevision = old?.modRevision ?? 0;
        try {
          if (value === null) {
            if (old !== null) await s.writeNow('kv.delete', { key, expectedModRevision });
          } else if (value === KEEP_VALUE) {
            await s.writeNow('kv.update', { key, value: EMPTY, keepValue: true, expectedModRevision, ...expiry });
          } else {
            await s.writeNow('kv.put', { key, value, expectedModRevision, ...expiry });
          }
          return result;
        } catch (error) {
          if (codeOf(error) !== Code.VersionMismatch || attempt >= CAS_ATTEMPTS_MAX) throw error;
        }
      }
    }
  }

  private modify(s: KvSession, key: Buffer, next: (old: Uint8Array | undefined) => Uint8Array): Promise<Uint8Array> {
    // INCR, APPEND and SETRANGE change the value in place: the key keeps its TTL (as in Redis).
    return this.cas(s, key, (old) => {
      const value = next(old?.value);
      if (value.length > this.backend.valueBytesMax) fail(RedisText.tooLarge);
      return { value, result: value, expiry: KEEP_TTL };
    });
  }

  /** INCR, DECR, INCRBY, DECRBY (the new integer) and INCRBYFLOAT (the new value's text). */
  private async incrementReply({ args, spec }: CommandCall, s: KvSession): Promise<Reply> {
    const { by, float } = incrementOf(spec.fullName, args);
    return incrementedReply(await this.increment(s, args[1]!, by, float), float);
  }

  /**
   * On the live connection: one incr write, batched with its neighbours and
   * decided where it applies. Inside EXEC the overlay computes it with the
   * same rules (its transaction carries the compares that make it atomic),
   * unless EXEC sends it as an incr op itself (increments.ts).
   */
  private increment(s: KvSession, key: Buffer, by: Buffer, float: boolean): Promise<Uint8Array> {
    if (s instanceof ConnectionSession) return s.incr(key, by, float);
    return this.modify(s, key, (old) => incrementedValue(old, by, float, key));
  }

  async setIfAbsent(s: KvSession, key: Buffer, value: Buffer, expiry: WriteExpiry = {}): Promise<boolean> {
    return s.serialize(async () => {
      try {
        await s.writeNow('kv.put', { key, value, expectedVersion: 0, ...expiry });
        return true;
      } catch (error) {
        if (codeOf(error) === Code.VersionMismatch) return false;
        throw error;
      }
    });
  }

  private swap(s: KvSession, key: Buffer, value: Buffer): Promise<Uint8Array | null> {
    return this.cas(s, key, (old) => ({ value, result: old?.value ?? null }));
  }

  private getDel(s: KvSession, key: Buffer): Promise<Uint8Array | null> {
    return this.cas(s, key, (old) => ({ value: old === null ? undefined : null, result: old?.value ?? null }));
  }

  /**
   * SET key value [NX|XX|IFEQ v] [GET] [EX|PX|EXAT|PXAT n|KEEPTTL] (Redis 7.0's option rules; IFEQ
   * as Valkey's: set only when the current value equals v). A relative TTL runs from the
   * leader's entry time; an absolute one is kept as given.
   */
  private async set({ args }: CommandCall, s: KvSession): Promise<Reply> {
    const key = args[1]!;
    const value = args[2]!;
    let nx = false;
    let xx = false;
    let ifeq: Buffer | null = null;
    let get = false;
    let unit: string | null = null;
    let amount: Buffer | null = null;
    let keepTtl = false;
    for (let i = 3; i < args.length; i++) {
      const opt = args[i]!.toString('latin1').toUpperCase();
      if (opt === 'NX' && !xx && ifeq === null) nx = true;
      else if (opt === 'XX' && !nx && ifeq === null) xx = true;
      else if (opt === 'IFEQ' && !nx && !xx && ifeq === null && i + 1 < args.length) ifeq = args[++i]!;
      else if (opt === 'GET') get = true;
      else if (opt === 'KEEPTTL' && unit === null) keepTtl = true;
      else if ((opt === 'EX' || opt === 'PX' || opt === 'EXAT' || opt === 'PXAT') && !keepTtl && unit === null && i + 1 < args.length) {
        unit = opt;
        amount = args[++i]!;
      } else return reply.error(RedisText.syntax);
    }
    const expiry: WriteExpiry = unit === null ? (keepTtl ? KEEP_TTL : {}) : parseSetExpiry(unit, amount!, 'set', this.nowMs());
    if (get || ifeq !== null) {
      const { old, written } = await this.cas(s, key, (entry) => {
        const exists = entry !== null;
        const write = ifeq !== null ? exists && Buffer.from(entry.value).equals(ifeq) : (nx && !exists) || (xx && exists) || (!nx && !xx);
        return { value: write ? value : undefined, expiry, result: { old: entry?.value ?? null, written: write } };
      });
      if (get) return reply.bulkOrNull(old);
      return written ? reply.ok : reply.null;
    }
    if (nx) return (await this.setIfAbsent(s, key, value, expiry)) ? reply.ok : reply.null;
    if (!xx && s instanceof ConnectionSession) {
      // A plain SET on the live connection joins the batch of its pipelined plain writes
      // (write-batch.ts); inside EXEC (an overlay session) it becomes one of the transaction's ops.
      await s.put(key, value, expiry);
      return reply.ok;
    }
    return s.serialize(async () => {
      try {
        if (xx) await s.writeNow('kv.update', { key, value, ...expiry });
        else await s.writeNow('kv.put', { key, value, ...expiry });
        return reply.ok;
      } catch (error) {
        if (xx && codeOf(error) === Code.KeyNotFound) return reply.null;
        throw error;
      }
    });
  }

  private async setRange({ args }: CommandCall, s: KvSession): Promise<Reply> {
    const offset = integerArg(args[2]!);
    if (offset < 0n) return reply.error(RedisText.offsetOutOfRange);
    const patch = args[3]!;
    if (Number(offset) + patch.length > this.backend.valueBytesMax) return reply.error(RedisText.tooLarge);
    const length = await this.cas(s, args[1]!, (old) => {
      const current = old === null ? Buffer.alloc(0) : Buffer.from(old.value);
      if (patch.length === 0) return { value: undefined, result: current.length };
      const out = Buffer.alloc(Math.max(current.length, Number(offset) + patch.length));
      current.copy(out);
      patch.copy(out, Number(offset));
      return { value: out, result: out.length, expiry: KEEP_TTL };
    });
    return reply.integer(length);
  }

  /** Every key in order (KEYS, DBSIZE), read page by page after this connection's writes. */
  private async allKeys(s: KvSession, pattern: Buffer | null): Promise<Buffer[]> {
    const out: Buffer[] = [];
    await this.eachKey(s, (key) => {
      if (pattern === null || globMatch(pattern, key)) out.push(key);
    });
    return out;
  }

  /**
   * RANDOMKEY: every key equally likely (a reservoir of one over the sorted keys, page by
   * page). O(N), unlike Redis's O(1) sample of its hash table: a range-ordered store has no
   * cheap uniform pick, and a random start key would favour keys after gaps.
   */
  private async randomKey(s: KvSession): Promise<Buffer | null> {
    let chosen: Buffer | null = null;
    let seen = 0;
    await this.eachKey(s, (key) => {
      seen++;
      if (this.backend.random.nextFloat() * seen < 1) chosen = key;
    });
    return chosen;
  }

  /** Every live key in order, a page of kv.scan at a time (after the connection's earlier writes). */
  private async eachKey(s: KvSession, visit: (key: Buffer) => void): Promise<void> {
    let after: Uint8Array | null = null;
    for (;;) {
      const page: { items: readonly KeyValue[]; next: Uint8Array | null } = await s.read('kv.scan', { limit: SCAN_PAGE_KEYS, consistency: 'linearizable', ...(after !== null ? { after } : {}) });
      for (const item of page.items) visit(Buffer.from(item.key));
      if (page.next === null) return;
      after = page.next;
    }
  }

  /**
   * SCAN cursor [MATCH pattern] [COUNT n] [TYPE t]: keys in sorted order, so a
   * key present for the whole scan is returned exactly once. The cursor names
   * the last key returned (kept here, bounded: SCAN_CURSORS_MAX).
   */
  private async scan({ args }: CommandCall, s: KvSession): Promise<Reply> {
    const cursorText = args[1]!.toString('latin1');
    if (!/^\d+$/.test(cursorText)) return reply.error(RedisText.invalidCursor);
    let count = 10;
    let pattern: Buffer | null = null;
    let typeFilter: string | null = null;
    for (let i = 2; i < args.length; i++) {
      const opt = args[i]!.toString('latin1').toUpperCase();
      if (i + 1 >= args.length) return reply.error(RedisText.syntax);
      if (opt === 'COUNT') {
        const n = integerArg(args[++i]!);
        if (n < 1n) return reply.error(RedisText.syntax);
        count = Number(n > 100_000n ? 100_000n : n);
      } else if (opt === 'MATCH') pattern = args[++i]!;
      else if (opt === 'TYPE') typeFilter = args[++i]!.toString('latin1').toLowerCase();
      else return reply.error(RedisText.syntax);
    }
    let after: Buffer | undefined;
    if (cursorText !== '0') {
      after = this.cursors.get(cursorText);
      if (after === undefined) return reply.error(RedisText.invalidCursor);
      this.cursors.delete(cursorText);
    }
    const page = await s.read('kv.scan', { limit: Math.min(count, SCAN_PAGE_KEYS), consistency: 'linearizable', ...(after !== undefined ? { after } : {}) });
    const keys = page.items
      .map((item) => Buffer.from(item.key))
      .filter((k) => (pattern === null || globMatch(pattern, k)) && (typeFilter === null || typeFilter === 'string'));
    let next = '0';
    if (page.next !== null) {
      next = String(this.nextCursor++);
      this.cursors.set(next, Buffer.from(page.next));
      if (this.cursors.size > SCAN_CURSORS_MAX) this.cursors.delete(this.cursors.keys().next().value!);
    }
    return reply.array([reply.bulk(next), reply.array(keys.map((k) => reply.bulk(k)))]);
  }

  /** FLUSHDB/FLUSHALL: every key deleted through the log, one delete per key (not one atomic step). */
  private flush(s: KvSession): Promise<Reply> {
    return s.serialize(async () => {
      for (;;) {
        const page = await s.readNow('kv.scan', { limit: SCAN_PAGE_KEYS, consistency: 'linearizable' });
        if (page.items.length === 0) return reply.ok;
        for (const item of page.items) await s.writeNow('kv.delete', { key: item.key });
      }
    });
  }
}

/** GETRANGE with Redis's index rules (negative from the end, clamped, empty when start > end). */
function getRange(value: Uint8Array | undefined, startArg: bigint, endArg: bigint): Buffer {
  const v = value === undefined ? Buffer.alloc(0) : Buffer.from(value);
  const len = BigInt(v.length);
  if (len === 0n) return Buffer.alloc(0);
  let start = startArg < 0n ? len + startArg : startArg;
  let end = endArg < 0n ? len + endArg : endArg;
  if (startArg < 0n && endArg < 0n && startArg > endArg) return Buffer.alloc(0);
  if (start < 0n) start = 0n;
  if (end < 0n) end = 0n;
  if (end >= len) end = len - 1n;
  if (start > end) return Buffer.alloc(0);
  return v.subarray(Number(start), Number(end) + 1);
}
