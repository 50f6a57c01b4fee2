/**
 * What the command layer needs from a member: the client methods, called
 * through the same path as client-protocol requests (validation, auth,
 * forwarding to the leader, ReadIndex), per RESP connection.
 */
import type { Clock } from '../common/clock.js';
import type { RandomSource } from '../common/rng.js';
import type { MethodTypes } from '../protocol/index.js';

export type KvMethod = 'kv.get' | 'kv.put' | 'kv.update' | 'kv.delete' | 'kv.scan' | 'kv.txn' | 'session.open' | 'session.keepAlive' | 'session.close' | 'cluster.status';

/** One client method call, as one RESP connection (its principal) makes it. */
export type KvCall = <M extends KvMethod>(method: M, request: MethodTypes[M]['request']) => Promise<MethodTypes[M]['response']>;

export interface RedisBackend {
  /** The calls for one RESP connection (keyed by its client id). */
  connect(connectionId: number): KvCall;
  readonly clock: Clock;
  /** Injected randomness (RANDOMKEY): the simulator and tests replay it from a seed. */
  readonly random: RandomSource;
  /** How long a command keeps retrying while there is no leader before it answers TRYAGAIN or "outcome unknown". */
  readonly requestTimeoutMs: number;
  /** Pause between retries of a write that found no leader. */
  readonly retryDelayMs: number;
  /** This member's name (INFO, ROLE). */
  readonly memberName: string;
  /** Whether this member is the leader now (ROLE, INFO replication). */
  isLeader(): boolean;
  /** The largest value a key may hold (APPEND, SETRANGE bounds). */
  readonly valueBytesMax: number;
  /** This member's view of the entry clock (the time TTLs are on: Redis's TTL, PTTL, EXPIREAT). */
  entryTimeMs(): number;
  /** This member's local key count and keys with a TTL (INFO keyspace; not a linearizable read). */
  keyspace(): { readonly keys: number; readonly expires: number };
}

/** How long an idle RESP connection's implicit session lives without a keep-alive. */
export const REDIS_SESSION_TTL_MS = 60_000;
