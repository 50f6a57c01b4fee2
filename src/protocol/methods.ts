/**
 * The client-facing RPC methods: one name per operation, and the request and
 * response type of each. Every member serves every method; a follower
 * forwards writes and linearizable reads to the leader itself and answers
 * with the leader's client URL in the header.
 */
import type {
  CloseSessionRequest,
  CloseSessionResponse,
  DeleteRequest,
  DeleteResponse,
  GetRequest,
  GetResponse,
  KeepAliveRequest,
  KeepAliveResponse,
  OpenSessionRequest,
  OpenSessionResponse,
  PutRequest,
  ScanRequest,
  ScanResponse,
  SnapshotSaveRequest,
  SnapshotSaveResponse,
  StatusRequest,
  StatusResponse,
  UpdateRequest,
  WriteResponse,
} from './types.js';
import type * as A from './auth-types.js';
import type * as M from './member-types.js';
import type * as L from './lease-types.js';
import type * as S from './session-status-types.js';
import type { TxnRequest, TxnResponse } from './txn.js';
import type * as W from './watch-types.js';

export const Method = {
  /**
   * Read one key. Linearizable by default (ReadIndex, batched with the other
   * reads arriving in the same event-loop turn); `consistency: 'stale'` reads
   * the contacted member's state without a Raft round. A missing key answers
   * `kv: null`.
   */
  Get: 'kv.get',
  /**
   * Create or overwrite a key. Exactly once per (sessionId, seq). With
   * `expectedVersion` / `expectedModRevision` it is a compare-and-set
   * (VersionMismatch when the condition fails; expectedVersion 0 = create only).
   */
  Put: 'kv.put',
  /** Overwrite an existing key; KeyNotFound if it does not exist. Exactly once per (sessionId, seq). */
  Update: 'kv.update',
  /** Delete a key (`deleted: false` if it did not exist). Exactly once per (sessionId, seq). */
  Delete: 'kv.delete',
  /** One page of keys in key order; pass `next` back as `after` for the next page. */
  Scan: 'kv.scan',
  /**
   * A multi-key transaction: compares, then the success or the failure ops,
   * atomically, in one log entry and one revision. Exactly once per
   * (sessionId, seq) when it writes; a read-only one is served after a
   * ReadIndex (or locally with consistency 'stale'), without the log.
   */
  Txn: 'kv.txn',
  /** Open a client session (a replicated entry); its id scopes the exactly-once sequence numbers. */
  OpenSession: 'session.open',
  /** Keep a session alive (a replicated entry carrying the leader's clock). */
  KeepAlive: 'session.keepAlive',
  /** Close a session and free its remembered results. */
  CloseSession: 'session.close',
  /**
   * The session table at a glance (counts, the sessions holding the most saved
   * results, those expiring first); admin once auth is enabled, answered by the
   * leader after a ReadIndex (session-status-types.ts).
   */
  SessionList: 'session.list',
  /** The answering member's state and the cluster's members. Served locally, never forwarded. */
  Status: 'cluster.status',
  /** Log this connection in as `user` (AuthenticationFailed otherwise); later requests on it act as that user. */
  Authenticate: 'auth.authenticate',
  /** Administration (root only once auth is enabled), proposed through Raft like writes. */
  UserAdd: 'user.add',
  UserDelete: 'user.delete',
  UserPasswd: 'user.passwd',
  UserGrantRole: 'user.grantRole',
  UserRevokeRole: 'user.revokeRole',
  RoleAdd: 'role.add',
  RoleDelete: 'role.delete',
  RoleGrantPermission: 'role.grantPermission',
  RoleRevokePermission: 'role.revokePermission',
  AuthEnable: 'auth.enable',
  AuthDisable: 'auth.disable',
  /** Queries, answered after a ReadIndex (on the leader). */
  UserGet: 'user.get',
  UserList: 'user.list',
  RoleGet: 'role.get',
  RoleList: 'role.list',
  AuthStatus: 'auth.status',
  /**
   * Membership (admin once auth is enabled). Answered by the leader (a
   * follower forwards): the members with how far each trails the leader.
   */
  MemberList: 'member.list',
  /** Propose adding a member (a learner, or a voter); answers once the change is applied on the leader. */
  MemberAdd: 'member.add',
  /** Propose making a caught-up learner a voter. */
  MemberPromote: 'member.promote',
  /** Propose removing a member (refused when it would leave the live voters short of a quorum, unless `force`). */
  MemberRemove: 'member.remove',
  /** Hand leadership to a caught-up voter (thesis §3.10); answers once another member leads. */
  LeaderTransfer: 'leader.transfer',
  /**
   * One page of a consistent snapshot of the whole store, for backups
   * (`concord snapshot save`). Served by the leader only (a follower answers
   * NotLeader with the leader's URL): the stream is opened after a ReadIndex,
   * so it includes every write acknowledged before the call. Admin permission
   * when auth is enabled.
   */
  SnapshotSave: 'snapshot.save',
  /** Leases (etcd's lease API): grant, revoke and keep-alive are exactly-once writes through the session. */
  LeaseGrant: 'lease.grant',
  /** Deletes the lease and its keys in one revision. */
  LeaseRevoke: 'lease.revoke',
  /** Renews up to 10,000 leases in one entry (coalesced keep-alives). */
  LeaseKeepAlive: 'lease.keepAlive',
  /** A lease's time left and (optionally) its keys; linearizable, answered by the leader. */
  LeaseTimeToLive: 'lease.timeToLive',
  /** Every lease in id order; linearizable, answered by the leader. */
  LeaseList: 'lease.list',
  /** Drop the revision history up to a revision, on every member (a replicated entry; admin once auth is enabled). */
  Compact: 'kv.compact',
  /**
   * Watches (watch-types.ts): served by the contacted member from its own
   * applied state, never forwarded. A watcher belongs to its connection.
   */
  WatchCreate: 'watch.create',
  WatchCancel: 'watch.cancel',
  /** The connection's one outstanding long-poll: batches for all its watchers. */
  WatchPoll: 'watch.poll',
} as const;
export type Method = (typeof Method)[keyof typeof Method];

/** Request and response types per method, for typed call sites. */
export interface MethodTypes {
  'kv.get': { request: GetRequest; response: GetResponse };
  'kv.put': { request: PutRequest; response: WriteResponse };
  'kv.update': { request: UpdateRequest; response: WriteResponse };
  'kv.delete': { request: DeleteRequest; response: DeleteResponse };
  'kv.scan': { request: ScanRequest; response: ScanResponse };
  'kv.txn': { request: TxnRequest; response: TxnResponse };
  'session.open': { request: OpenSessionRequest; response: OpenSessionResponse };
  'session.keepAlive': { request: KeepAliveRequest; response: KeepAliveResponse };
  'session.close': { request: CloseSessionRequest; response: CloseSessionResponse };
  'session.list': { request: S.SessionListRequest; response: S.SessionListResponse };
  'cluster.status': { request: StatusRequest; response: StatusResponse };
  'auth.authenticate': { request: A.AuthenticateRequest; response: A.AuthOkResponse };
  'user.add': { request: A.UserAddRequest; response: A.AuthOkResponse };
  'user.delete': { request: A.UserNameRequest; response: A.AuthOkResponse };
  'user.passwd': { request: A.UserPasswdRequest; response: A.AuthOkResponse };
  'user.grantRole': { request: A.UserRoleRequest; response: A.AuthOkResponse };
  'user.revokeRole': { request: A.UserRoleRequest; response: A.AuthOkResponse };
  'role.add': { request: A.UserNameRequest; response: A.AuthOkResponse };
  'role.delete': { request: A.UserNameRequest; response: A.AuthOkResponse };
  'role.grantPermission': { request: A.RoleGrantPermissionRequest; response: A.AuthOkResponse };
  'role.revokePermission': { request: A.RoleRevokePermissionRequest; response: A.AuthOkResponse };
  'auth.enable': { request: A.EmptyRequest; response: A.AuthOkResponse };
  'auth.disable': { request: A.EmptyRequest; response: A.AuthOkResponse };
  'user.get': { request: A.UserNameRequest; response: A.UserGetResponse };
  'user.list': { request: A.EmptyRequest; response: A.UserListResponse };
  'role.get': { request: A.UserNameRequest; response: A.RoleGetResponse };
  'role.list': { request: A.EmptyRequest; response: A.RoleListResponse };
  'auth.status': { request: A.EmptyRequest; response: A.AuthStatusResponse };
  'member.list': { request: M.MemberListRequest; response: M.MemberListResponse };
  'member.add': { request: M.MemberAddRequest; response: M.MemberChangeResponse };
  'member.promote': { request: M.MemberPromoteRequest; response: M.MemberChangeResponse };
  'member.remove': { request: M.MemberRemoveRequest; response: M.MemberChangeResponse };
  'leader.transfer': { request: M.LeaderTransferRequest; response: M.LeaderTransferResponse };
  'snapshot.save': { request: SnapshotSaveRequest; response: SnapshotSaveResponse };
  'lease.grant': { request: L.LeaseGrantRequest; response: L.LeaseGrantResponse };
  'lease.revoke': { request: L.LeaseRevokeRequest; response: L.LeaseRevokeResponse };
  'lease.keepAlive': { request: L.LeaseKeepAliveRequest; response: L.LeaseKeepAliveResponse };
  'lease.timeToLive': { request: L.LeaseTimeToLiveRequest; response: L.LeaseTimeToLiveResponse };
  'lease.list': { request: L.LeaseListRequest; response: L.LeaseListResponse };
  'kv.compact': { request: W.CompactRequest; response: W.CompactResponse };
  'watch.create': { request: W.WatchCreateRequest; response: W.WatchCreateResponse };
  'watch.cancel': { request: W.WatchCancelRequest; response: W.WatchCancelResponse };
  'watch.poll': { request: W.WatchPollRequest; response: W.WatchPollResponse };
}

/** Methods that change state: forwarded to the leader and proposed through Raft. */
export const writeMethods: ReadonlySet<Method> = new Set<Method>([
  Method.Put,
  Method.Update,
  Method.Delete,
  Method.OpenSession,
  Method.KeepAlive,
  Method.CloseSession,
  Method.UserAdd,
  Method.UserDelete,
  Method.UserPasswd,
  Method.UserGrantRole,
  Method.UserRevokeRole,
  Method.RoleAdd,
  Method.RoleDelete,
  Method.RoleGrantPermission,
  Method.RoleRevokePermission,
  Method.AuthEnable,
  Method.AuthDisable,
  Method.LeaseGrant,
  Method.LeaseRevoke,
  Method.LeaseKeepAlive,
  Method.Compact,
]);

/** Protocol-level bounds a member enforces (the member's own key/value limits are configurable). */
export const protocolLimits = {
  /** Largest page a scan may ask for. */
  scanLimitMax: 10_000,
  /** Smallest and largest session time to live a member grants. */
  sessionTtlMinMs: 1_000,
  sessionTtlMaxMs: 24 * 60 * 60 * 1000,
  /** Default and largest page of a snapshot stream (a page is one frame; frames are at least 16 MiB). */
  snapshotChunkBytesDefault: 1024 * 1024,
  snapshotChunkBytesMax: 8 * 1024 * 1024,
} as const;

/** Default member limits (overridable by server config). */
export const defaultKeyBytesMax = 4 * 1024;
export const defaultValueBytesMax = 1024 * 1024;
