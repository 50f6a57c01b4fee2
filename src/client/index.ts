/**
 * Concord's client library.
 *
 *   import { connect } from 'concord-kv/client';
 *   const kv = await connect({ endpoints: ['tcp://127.0.0.1:7001', 'tcp://127.0.0.1:7002'] });
 *   await kv.put('greeting', 'hello');
 *   (await kv.get('greeting'))?.valueString(); // 'hello'
 *   await kv.close();
 *
 * See docs/client.md for retries, exactly-once writes and errors.
 */
import { parseAddress } from '../net/index.js';
import { connectWith, KvClient } from './client.js';
import type { KvClientOptions } from './options.js';
import { InvalidRequestError } from './errors.js';
import { createRpcChannel } from './net-channel.js';
import type { TlsOptions } from '../net/index.js';
import type { ChannelFactory } from './channel.js';
import { authenticatingFactory, type AuthCredentials } from './auth.js';

export interface ConnectOptions extends KvClientOptions {
  /**
   * For tls:// endpoints: `ca` to trust (default Node's roots), `cert` and
   * `key` for a client certificate (a member with --client-cert-auth takes its
   * CN as the user), `servername` to verify instead of the endpoint's host.
   */
  readonly tls?: TlsOptions;
  /** Log every connection in as this user (after each connect and reconnect). */
  readonly auth?: AuthCredentials;
  /** How long each connection's login may take (default 5000; at least connectTimeoutMs). */
  readonly loginTimeoutMs?: number;
  /** Calls in flight per connection before further ones wait and retry (default 4096). */
  readonly pendingCallsMax?: number;
}

/**
 * Connects to a Concord cluster and, unless `openSessionOnConnect` is false,
 * opens the client's session (which needs a leader: it waits up to
 * `timeoutMs` for one). With `channelFactory`, the client runs over those
 * channels instead of the net layer (see KvClientOptions.channelFactory).
 */
export function connect(options: ConnectOptions): Promise<KvClient> {
  // A custom channel (e.g. the simulator's) gives endpoints its own meaning.
  const withAuth = (factory: ChannelFactory): ChannelFactory => (options.auth === undefined ? factory : authenticatingFactory(factory, options.auth, options.loginTimeoutMs));
  if (options.channelFactory !== undefined) return connectWith(options, withAuth(options.channelFactory));
  for (const endpoint of options.endpoints) {
    try {
      parseAddress(endpoint);
    } catch (error) {
      return Promise.reject(new InvalidRequestError((error as Error).message, 'bad endpoint'));
    }
  }
  const connectTimeoutMs = options.connectTimeoutMs ?? 1_000;
  return connectWith(
    options,
    withAuth((address) =>
      createRpcChannel(address, {
        timeoutMs: connectTimeoutMs,
        ...(options.tls !== undefined ? { tls: options.tls } : {}),
        ...(options.pendingCallsMax !== undefined ? { pendingCallsMax: options.pendingCallsMax } : {}),
        ...(options.clock !== undefined ? { clock: options.clock } : {}),
      }),
    ),
  );
}

export { KvClient } from './client.js';
export { MemberAdmin, LeaderAdmin, type MemberAddOptions, type MemberRemoveOptions } from './members.js';
export type { MemberEntry, MemberListResponse, MemberChangeResponse, LeaderTransferResponse } from '../protocol/index.js';
export {
  type CallOptions,
  type ClusterStatus,
  type DeleteOptions,
  type KvClientOptions,
  type DeleteResult,
  type GetOptions,
  type MemberReport,
  type PutOptions,
  type ScanOptions,
  type WriteConditionOptions,
  type WriteResult,
} from './options.js';
export { KeyValueResult } from './key-value.js';
export { ScanIterable, type ScanRange } from './scan.js';
export { SnapshotDownload, type SnapshotInfo, type SnapshotOptions } from './snapshot.js';
export {
  Compare,
  Op,
  TxnBuilder,
  type CompareOp,
  type CompareTarget,
  type TxnCompareSpec,
  type TxnKeyRange,
  type TxnOpResult,
  type TxnOpSpec,
  type TxnWriteExpiry,
  type TxnOptions,
  type TxnResult,
  type TxnSpec,
} from './txn.js';
export { UnresolvedWrite, UnresolvedWriteState } from './unresolved-write.js';
export { toBytes, bytesToString, type BytesLike } from './bytes.js';
export type { BackoffOptions } from '../common/backoff.js';
export type { RpcChannel, ChannelFactory } from './channel.js';
export {
  AbortedError,
  ClientClosedError,
  ClientErrorCode,
  InvalidRequestError,
  LeaderTransferFailedError,
  LearnerNotCaughtUpError,
  MemberChangePendingError,
  MemberExistsError,
  MemberNotFoundError,
  MemberNotLearnerError,
  QuorumAtRiskError,
  ServerError,
  TimeoutError,
  UnavailableError,
  type OutcomeUnknown,
} from './errors.js';
export {
  EmptyKeyError,
  InvalidCommandError,
  InvalidScanError,
  KeyNotFoundError,
  KeyTooLargeError,
  KvError,
  SessionExpiredError,
  SessionResultsFullError,
  SessionsFullError,
  StaleSequenceError,
  TxnTooLargeError,
  ValueTooLargeError,
  VersionMismatchError,
} from '../kv/errors.js';
export {
  AuthenticationFailedError,
  AuthOldRevisionError,
  PermissionDeniedError,
  SessionTableFullError,
  UserQuotaExceededError,
  LeaseNotFoundError,
  LeaseExistsError,
  LeasesFullError,
  CompactedError,
  FutureRevisionError,
} from '../kv/index.js';
export { Mutex } from './concurrency/mutex.js';
export { Election } from './concurrency/election.js';
export { WatchCanceledError, WatchStream, WATCH_BUFFER_BATCHES_MAX, type WatchBatch, type WatchEvent, type WatchOptions, type WatchTarget } from './watch.js';
export { SessionTableClient, type SessionListOptions } from './session-table.js';
export type { SessionListResponse, SessionSummary } from '../protocol/index.js';
export { LeaseClient, type KeepAliveHandle, type LeaseGrant, type LeaseTimeToLive } from './leases.js';
export type { AuthCredentials } from './auth.js';
export { Consistency, ErrorCode } from '../protocol/index.js';
