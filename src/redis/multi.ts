/**
 * MULTI, EXEC, DISCARD, WATCH, UNWATCH: a Redis transaction is one Concord
 * transaction, one log entry.
 *
 * After MULTI the connection's commands are queued (the table's lookup
 * interceptor answers +QUEUED; an unknown command or a wrong arity is
 * answered at once and makes EXEC fail with EXECABORT, as in Redis). EXEC
 * runs the queued commands' own handlers on an overlay (overlay-session.ts):
 * each key is read once, writes stay in the overlay, and every reply is
 * computed. The entry it proposes is
 *
 *   compare: the WATCHed keys' modRevisions (a key watched while missing:
 *            createRevision = 0)
 *   success: [ txn { compare: every key read still has the modRevision read,
 *                    success: the overlay's final puts and deletes } ]
 *
 * so a WATCHed key changed since WATCH fails the outer compare (EXEC answers
 * a null array), and a key changed between EXEC's reads and its entry fails
 * only the inner one (EXEC runs the commands again on fresh reads). A
 * transaction without writes is checked the same way as a read-only
 * transaction, without the log.
 *
 * A key that only INCR-family commands of the transaction name is not read:
 * its increments are `incr` ops at the end of the inner success branch,
 * decided where the entry applies (increments.ts), and their replies come
 * from the ops' results. A hot counter incremented inside EXEC then never
 * fails the inner compare. When such an op is refused (the key holds no
 * number, or it would overflow) the entry applies nothing, and EXEC runs the
 * commands again reading every key, so that command alone answers the error.
 */
import type { WireCompare } from '../protocol/index.js';
import { CommandFlag, type CommandCall, type CommandEntry, type CommandLookup, type CommandTable, type ConnectionState, reply, type Reply } from '../resp/index.js';
import { OverlaySession } from './overlay-session.js';
import { ConcordErrorCode as Code } from '../common/error-codes.js';
import { INCREMENT_COMMANDS, incrementOf, incrementOnlyKeys } from './increments.js';
import { codeOf, toRedisReply } from './redis-errors.js';
import { CAS_ATTEMPTS_MAX, incrementedReply, type RedisCommands } from './string-commands.js';

/** Commands one transaction may queue (a transaction is one entry: kv's txnOpsMax bounds its ops anyway). */
export const MULTI_QUEUED_COMMANDS_MAX = 10_000;
/** Keys one connection may WATCH at once. */
export const WATCHED_KEYS_MAX = 10_000;

/** Commands that run at once inside MULTI instead of being queued (Redis's processCommand). */
const IMMEDIATE: ReadonlySet<string> = new Set(['exec', 'discard', 'multi', 'watch', 'quit', 'reset']);

/** An increment EXEC sent as an incr op: its reply comes from the entry's result. */
class Deferred {
  constructor(
    readonly n: number,
    readonly float: boolean,
  ) {}
}

const NO_KEYS: ReadonlySet<string> = new Set();
/** The incr op's refusals (src/kv/incr.ts). */
const INCR_REFUSALS: ReadonlySet<string> = new Set([Code.NotANumber, Code.IncrementOverflow]);

interface Queued {
  readonly args: readonly Buffer[];
  readonly entry: CommandEntry;
}

interface Transaction {
  readonly queue: Queued[];
  /** A queued command was refused: EXEC answers EXECABORT. */
  dirty: boolean;
}

export class Transactions {
  private readonly open = new Map<number, Transaction>();
  private readonly watched = new Map<number, Map<string, WireCompare>>();

  constructor(private readonly commands: RedisCommands) {}

  /** The socket closed: forget its transaction and watches. */
  forget(connectionId: number): void {
    this.open.delete(connectionId);
    this.watched.delete(connectionId);
  }

  register(table: CommandTable): CommandTable {
    const barrier = { extraFlags: [CommandFlag.barrier] };
    return table
      .intercept((args, connection, found) => this.route(args, connection, found))
      .register('multi', ({ connection }) => {
        if (this.open.has(connection.id)) return reply.error('ERR MULTI calls can not be nested');
        this.open.set(connection.id, { queue: [], dirty: false });
        return reply.ok;
      }, barrier)
      .register('discard', ({ connection }) => {
        if (!this.open.delete(connection.id)) return reply.error('ERR DISCARD without MULTI');
        this.watched.delete(connection.id);
        return reply.ok;
      }, barrier)
      .register('unwatch', ({ connection }) => {
        this.watched.delete(connection.id);
        return reply.ok;
      }, barrier)
      .register('watch', (call) => this.watch(call), barrier)
      .register('exec', (call) => this.exec(call), barrier);
  }

  /** Inside MULTI: queue the command (+QUEUED), or answer a refused one and mark the transaction failed. */
  private route(args: readonly Buffer[], connection: ConnectionState, found: CommandLookup): CommandLookup {
    const tx = this.open.get(connection.id);
    if (tx === undefined) return found;
    if (found.kind === 'rejected') {
      tx.dirty = true;
      return found;
    }
    if (IMMEDIATE.has(found.entry.spec.fullName)) return found;
    if (tx.queue.length >= MULTI_QUEUED_COMMANDS_MAX) {
      tx.dirty = true;
      return { kind: 'rejected', reply: reply.error(`ERR a transaction holds at most ${MULTI_QUEUED_COMMANDS_MAX} commands`) };
    }
    const entry = found.entry;
    // Copies: the decoder may reuse the bytes of a request once it has been dispatched.
    const queued: Queued = { args: args.map((a) => Buffer.from(a)), entry };
    const flags = new Set([...entry.spec.flags].filter((f) => f !== CommandFlag.barrier));
    return {
      kind: 'found',
      entry: {
        spec: { ...entry.spec, flags },
        handler: () => {
          tx.queue.push(queued);
          return reply.simple('QUEUED');
        },
      },
    };
  }

  private async watch({ args, connection }: CommandCall): Promise<Reply> {
    if (this.open.has(connection.id)) return reply.error('ERR WATCH inside MULTI is not allowed');
    const watches = this.watched.get(connection.id) ?? new Map<string, WireCompare>();
    try {
      for (const key of args.slice(1)) {
        const id = key.toString('latin1');
        // Watching a key again keeps the first watch (Redis keeps the key's first watch too).
        if (watches.has(id)) continue;
        if (watches.size >= WATCHED_KEYS_MAX) return reply.error(`ERR a connection watches at most ${WATCHED_KEYS_MAX} keys`);
        const entry = await this.commands.get(this.commands.liveSessionOf(connection.id), key, true);
        watches.set(
          id,
          entry === null
            ? { key: Buffer.from(key), target: 'createRevision', op: '=', createRevision: 0 }
            : { key: Buffer.from(key), target: 'modRevision', op: '=', modRevision: entry.modRevision },
        );
      }
    } catch (error) {
      return toRedisReply(error);
    } finally {
      if (watches.size > 0) this.watched.set(connection.id, watches);
    }
    return reply.ok;
  }

  private async exec(call: CommandCall): Promise<Reply> {
    const id = call.connection.id;
    const tx = this.open.get(id);
    if (tx === undefined) return reply.error('ERR EXEC without MULTI');
    this.open.delete(id);
    const watches = [...(this.watched.get(id)?.values() ?? [])];
    this.watched.delete(id);
    if (tx.dirty) return reply.error('EXECABORT Transaction discarded because of previous errors.');
    const live = this.commands.liveSessionOf(id);
    let incrementOnly: ReadonlySet<string> = incrementOnlyKeys(tx.queue.map((q) => ({ args: q.args, spec: q.entry.spec })));
    try {
      return await live.serialize(async () => {
        for (let attempt = 1; attempt <= CAS_ATTEMPTS_MAX; attempt++) {
          const overlay = new OverlaySession(live, this.commands.nowMs(), incrementOnly);
          const replies = await this.commands.withOverlay(id, overlay, async () => {
            const out: (Reply | Deferred)[] = [];
            for (const q of tx.queue) out.push(await this.run(q, call, overlay));
            return out;
          });
          if (overlay.touchedIncrementOnly) {
            // A command reached an increment-only key its spec does not name: run again, every key read here.
            incrementOnly = NO_KEYS;
            continue;
          }
          const reads = overlay.readCompares();
          if (watches.length === 0 && reads.length === 0 && !overlay.hasWrites) return reply.array(replies as Reply[]);
          const body = { compare: watches, success: [{ type: 'txn' as const, compare: reads, success: overlay.finalOps(), failure: [] }], failure: [] };
          let result;
          try {
            result = overlay.hasWrites ? await live.writeNow('kv.txn', body) : await live.readNow('kv.txn', body);
          } catch (error) {
            // An incr op refused where it applied (not a number, overflow) refuses the whole entry, nothing applied:
            // run again with every key read here, so that only that command answers the error, as in Redis.
            if (incrementOnly.size === 0 || !INCR_REFUSALS.has(codeOf(error) ?? '')) throw error;
            incrementOnly = NO_KEYS;
            continue;
          }
          if (!result.succeeded) return reply.nullArray;
          const inner = result.results[0];
          if (inner?.succeeded === true) {
            const results = inner.results ?? [];
            return reply.array(replies.map((r) => (r instanceof Deferred ? incrementedReply(overlay.deferredValue(results, r.n), r.float) : r)));
          }
          // A key read changed before the entry applied: run the commands again on fresh reads.
        }
        return reply.error('ERR EXEC lost the race to other writers too many times; nothing was applied');
      });
    } catch (error) {
      return toRedisReply(error);
    }
  }

  /** One queued command on the overlay; an increment of an increment-only key becomes an incr op of the entry. */
  private async run(q: Queued, call: CommandCall, overlay: OverlaySession): Promise<Reply | Deferred> {
    const name = q.entry.spec.fullName;
    if (INCREMENT_COMMANDS.has(name) && overlay.defersIncrementOf(q.args[1]!)) {
      try {
        const { by, float } = incrementOf(name, q.args);
        return new Deferred(overlay.deferIncrement(q.args[1]!, by, float), float);
      } catch (error) {
        return toRedisReply(error);
      }
    }
    return q.entry.handler({ args: q.args, spec: q.entry.spec, connection: call.connection, services: call.services });
  }
}
