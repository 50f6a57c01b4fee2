/**
 * The client's options and results: what `connect` and each call take, and
 * what they return.
 */
import type { Consistency, MemberStatus } from '../protocol/index.js';
import type { BackoffOptions } from '../common/backoff.js';
import type { Clock } from '../common/clock.js';
import type { RandomSource } from '../common/rng.js';
import type { ChannelFactory } from './channel.js';

/** Per-call options every method takes. */
export interface CallOptions {
  /** Deadline for the whole call, retries included (default: the client's `timeoutMs`). */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

export interface GetOptions extends CallOptions {
  /** 'linearizable' (default) or 'stale' (served by the contacted member from its local copy). */
  readonly consistency?: Consistency;
}

export interface WriteConditionOptions {
  /** Apply only if the key's version is this (0: only if the key does not exist). */
  readonly expectedVersion?: number;
  /** Apply only if the key's modRevision is this. */
  readonly expectedModRevision?: number;
}

export interface PutOptions extends CallOptions, WriteConditionOptions {
  /** Attach the key to this lease (`client.lease.grant`): it is deleted when the lease expires or is revoked. */
  readonly lease?: number;
  /** Give the key a TTL of its own, in ms (Redis SET PX): deleted that long after this write. Excludes `lease`. */
  readonly ttlMs?: number;
}
export interface DeleteOptions extends CallOptions, WriteConditionOptions {}

export interface ScanOptions {
  /** Stop after this many keys in total (default: no limit). */
  readonly limit?: number;
  /** Keys per request (default 1000, at most protocolLimits.scanLimitMax). */
  readonly pageSize?: number;
  readonly consistency?: Consistency;
  /** Deadline of each page's request. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** The outcome of a put or update. */
export interface WriteResult {
  /** The store revision of the write (the key's new modRevision). */
  readonly revision: number;
  /** The key's version after the write. */
  readonly version: number;
}

/** The outcome of a delete. */
export interface DeleteResult {
  /** The store revision of the delete (the current revision when nothing was deleted). */
  readonly revision: number;
  /** False when the key did not exist. */
  readonly deleted: boolean;
}

/** One member in `status()`: what the cluster configuration says, plus its own report when reachable. */
export interface MemberReport {
  readonly name: string;
  readonly peerUrl: string;
  readonly clientUrl: string | null;
  readonly voter: boolean;
  /** The member's own status, or null when it could not be reached. */
  readonly status: MemberStatus | null;
  /** Why the member could not be reached. */
  readonly error: string | null;
}

export interface ClusterStatus {
  /** The leader's name as the majority of reachable members report it, or null. */
  readonly leaderId: string | null;
  readonly members: readonly MemberReport[];
}

export interface KvClientOptions {
  /** Client URLs of some or all members: tcp://host:port, unix:///path.sock, tls://host:port, mem://name. */
  readonly endpoints: readonly string[];
  /** Default deadline of each call, retries included. Default 5000. */
  readonly timeoutMs?: number;
  /** How long opening one connection may take before the next member is tried. Default 1000. */
  readonly connectTimeoutMs?: number;
  /**
   * How long one attempt waits for a member's answer before the call tries
   * the next member (the last attempt gets all the time left). Default: a
   * third of the call's timeoutMs. A member that accepts connections but does
   * not answer (paused, overloaded) thus costs one attempt, not the call.
   */
  readonly attemptTimeoutMs?: number;
  /** Session time to live the client asks for (the server clamps it). Default 60000. */
  readonly sessionTtlMs?: number;
  /** Retry waits. Default: full jitter, 5 ms doubling to 500 ms. */
  readonly backoff?: BackoffOptions;
  /**
   * Bound on writes kept for `retryWrite` after their outcome was unknown.
   * Beyond it the oldest is forgotten (its saved result may then be discarded
   * by the server). Default 256.
   */
  readonly unresolvedWritesMax?: number;
  /**
   * Open the session while connecting (default true), so that connecting
   * proves a leader is reachable and the first write pays no extra round.
   * With false the session is opened by the first write: a client that only
   * reads (stale reads work without a leader) never proposes anything.
   */
  readonly openSessionOnConnect?: boolean;
  /** Cancels connecting (the session open). */
  readonly signal?: AbortSignal;
  /**
   * Opens the connection to one endpoint (default: the net layer's RPC client
   * over tcp://, tls://, unix:// or mem://). Anything that speaks the client
   * protocol as an `RpcChannel` will do: the deterministic simulator passes one
   * that reaches its simulated members without sockets, and then endpoints are
   * whatever names it understands (they are not parsed as net addresses).
   */
  readonly channelFactory?: ChannelFactory;
  /**
   * Time and timers of every deadline, backoff sleep and keep-alive (default
   * systemClock), and of the default channel's connections (connect
   * timeout, call deadlines). The simulator passes its simulated clock.
   */
  readonly clock?: Clock;
  /** Randomness for backoff jitter and the first endpoint tried (default systemRandom). */
  readonly random?: RandomSource;
}

export const clientDefaults = {
  timeoutMs: 5_000,
  connectTimeoutMs: 1_000,
  sessionTtlMs: 60_000,
  unresolvedWritesMax: 256,
  scanPageSize: 1_000,
  backoff: { initialMs: 5, maxMs: 500 } satisfies BackoffOptions,
} as const;

