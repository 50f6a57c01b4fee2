/**
 * Wire schemas of the client protocol (the net layer's schema DSL). They
 * validate every request a member receives and every response a client
 * receives; `Infer<typeof X>` of each equals the type in types.ts (checked at
 * compile time below).
 *
 * Byte fields are bounded generously here (a frame is already bounded by
 * frameBytesMax); the member enforces its configured key/value limits itself,
 * so that an oversize value gets a specific ValueTooLarge error rather than a
 * generic shape error.
 */
import { defineMethods, type MethodName, s, Schema, type Infer, type RequestOf, type ResponseOf, type SchemaFailure } from '../net/index.js';
import type { TxnRequest, TxnResponse, WireCompare, WireTxnOp, WireTxnOpResult } from './txn.js';
import type { Method, MethodTypes } from './methods.js';
import type * as T from './types.js';
import type * as L from './lease-types.js';
import type * as W from './watch-types.js';
import type * as S from './session-status-types.js';

const consistency = s.oneOf('linearizable', 'stale');
const role = s.oneOf('follower', 'pre-candidate', 'candidate', 'leader');

export const responseHeaderSchema = s.object({
  memberName: s.string(),
  leaderId: s.nullable(s.string()),
  leaderClientUrl: s.nullable(s.string()),
  revision: s.uint(),
});

export const keyValueSchema = s.object({
  key: s.bytes(),
  value: s.bytes(),
  version: s.uint(),
  createRevision: s.uint(),
  modRevision: s.uint(),
  lease: s.optional(s.uint()),
  expiresAtMs: s.optional(s.uint()),
});

export const sessionRefSchema = s.object({
  sessionId: s.uint(),
  seq: s.uint(),
  ackedSeq: s.uint(),
});

export const getRequestSchema = s.object({ key: s.bytes(), consistency });
export const getResponseSchema = s.object({ header: responseHeaderSchema, kv: s.nullable(keyValueSchema) });

const writeShape = {
  key: s.bytes(),
  value: s.bytes(),
  session: sessionRefSchema,
  expectedVersion: s.optional(s.uint()),
  expectedModRevision: s.optional(s.uint()),
};
/** A put may attach the key to a lease or give it a TTL of its own (not both). */
const expiryShape = { lease: s.optional(s.uint()), ttlMs: s.optional(s.uint()), expiresAtMs: s.optional(s.uint()), keepTtl: s.optional(s.bool()) };
export const putRequestSchema = s.object({ ...writeShape, ...expiryShape });
export const updateRequestSchema = s.object({ ...writeShape, ...expiryShape, keepValue: s.optional(s.bool()) });
export const writeResponseSchema = s.object({ header: responseHeaderSchema, revision: s.uint(), version: s.uint() });

export const deleteRequestSchema = s.object({
  key: s.bytes(),
  session: sessionRefSchema,
  expectedVersion: s.optional(s.uint()),
  expectedModRevision: s.optional(s.uint()),
});
export const deleteResponseSchema = s.object({ header: responseHeaderSchema, revision: s.uint(), deleted: s.bool() });

export const scanRequestSchema = s.object({
  start: s.optional(s.bytes()),
  end: s.optional(s.bytes()),
  prefix: s.optional(s.bytes()),
  after: s.optional(s.bytes()),
  limit: s.uint(),
  consistency,
});
export const scanResponseSchema = s.object({
  header: responseHeaderSchema,
  items: s.array(keyValueSchema),
  next: s.nullable(s.bytes()),
});

export const openSessionRequestSchema = s.object({ ttlMs: s.uint() });
export const openSessionResponseSchema = s.object({ header: responseHeaderSchema, sessionId: s.uint(), ttlMs: s.uint() });
export const keepAliveRequestSchema = s.object({ sessionId: s.uint() });
export const keepAliveResponseSchema = s.object({ header: responseHeaderSchema });
export const closeSessionRequestSchema = s.object({ sessionId: s.uint() });
export const closeSessionResponseSchema = s.object({ header: responseHeaderSchema });

export const statusRequestSchema = s.object({ verbose: s.optional(s.bool()) });
export const memberInfoSchema = s.object({
  name: s.string(),
  peerUrl: s.string(),
  clientUrl: s.nullable(s.string()),
  voter: s.bool(),
});
export const memberStatusSchema = s.object({
  name: s.string(),
  clientUrl: s.string(),
  peerUrl: s.string(),
  role,
  term: s.uint(),
  commitIndex: s.uint(),
  appliedIndex: s.uint(),
  snapshotIndex: s.uint(),
  firstLogIndex: s.uint(),
  lastLogIndex: s.uint(),
  leaderId: s.nullable(s.string()),
  leaderClientUrl: s.nullable(s.string()),
  storageFailed: s.bool(),
  version: s.string(),
  /** Bytes of the member's data directory on disk (absent from members that do not report it). */
  dataSizeBytes: s.optional(s.uint()),
});
export const statusResponseSchema = s.object({
  header: responseHeaderSchema,
  member: memberStatusSchema,
  members: s.array(memberInfoSchema),
});

export const snapshotSaveRequestSchema = s.object({ streamId: s.uint(), offset: s.uint(), chunkBytesMax: s.uint() });
export const snapshotSaveResponseSchema = s.object({
  header: responseHeaderSchema,
  streamId: s.uint(),
  index: s.uint(),
  term: s.uint(),
  clusterId: s.string(),
  keys: s.uint(),
  totalBytes: s.uint(),
  offset: s.uint(),
  chunk: s.bytes(),
  done: s.bool(),
});

// Auth (auth-types.ts). Names and passwords are bounded here; the state machine checks names exactly.
const authName = s.string({ maxLength: 1024 });
const password = s.string({ maxLength: 1024 });
const okResponse = s.object({ header: responseHeaderSchema });
const nameRequest = s.object({ name: authName });
const emptyRequest = s.object({});
const wirePermission = s.object({ access: s.oneOf('read', 'write', 'readwrite'), key: s.bytes(), rangeEnd: s.optional(s.bytes()) });
export const authSchemas = {
  authenticate: s.object({ user: authName, password }),
  userAdd: s.object({ name: authName, password: s.nullable(password) }),
  userRole: s.object({ name: authName, role: authName }),
  userGet: s.object({ header: responseHeaderSchema, name: s.string(), roles: s.array(s.string()), hasPassword: s.bool() }),
  userList: s.object({ header: responseHeaderSchema, users: s.array(s.string()) }),
  roleGet: s.object({ header: responseHeaderSchema, name: s.string(), permissions: s.array(wirePermission) }),
  roleList: s.object({ header: responseHeaderSchema, roles: s.array(s.string()) }),
  grant: s.object({ name: authName, permission: wirePermission }),
  revoke: s.object({ name: authName, key: s.bytes(), rangeEnd: s.optional(s.bytes()) }),
  status: s.object({ header: responseHeaderSchema, enabled: s.bool(), revision: s.uint() }),
};

// Membership (member-types.ts).
const memberName = s.string({ maxLength: 64 });
const url = s.string({ maxLength: 1024 });
export const memberEntrySchema = s.object({
  name: s.string(),
  id: s.string(),
  peerUrl: s.string(),
  clientUrl: s.nullable(s.string()),
  role: s.oneOf('voter', 'learner'),
  isLeader: s.bool(),
  matchIndex: s.uint(),
  trailingEntries: s.uint(),
  active: s.bool(),
});
export const memberSchemas = {
  listRequest: s.object({ verbose: s.optional(s.bool()) }),
  listResponse: s.object({ header: responseHeaderSchema, members: s.array(memberEntrySchema), leaderLastIndex: s.uint() }),
  addRequest: s.object({ name: memberName, peerUrl: url, clientUrl: s.optional(url), learner: s.bool(), force: s.optional(s.bool()) }),
  changeResponse: s.object({ header: responseHeaderSchema, member: memberEntrySchema, members: s.array(memberEntrySchema) }),
  promoteRequest: s.object({ name: memberName }),
  removeRequest: s.object({ name: memberName, force: s.bool() }),
  transferRequest: s.object({ name: s.optional(memberName) }),
  transferResponse: s.object({ header: responseHeaderSchema, previousLeader: s.string(), leader: s.string() }),
};
// Leases (lease-types.ts).
const leaseIdsMax = 10_000;
export const leaseSchemas = {
  grant: s.object({ ttlMs: s.uint(), id: s.optional(s.uint()), session: sessionRefSchema }),
  granted: s.object({ header: responseHeaderSchema, id: s.uint(), ttlMs: s.uint() }),
  revoke: s.object({ id: s.uint(), session: sessionRefSchema }),
  revoked: s.object({ header: responseHeaderSchema, revision: s.uint(), deletedKeys: s.uint() }),
  keepAlive: s.object({ ids: s.array(s.uint(), { maxLength: leaseIdsMax }), session: sessionRefSchema }),
  keptAlive: s.object({ header: responseHeaderSchema, ttls: s.array(s.uint(), { maxLength: leaseIdsMax }) }),
  timeToLive: s.object({ id: s.uint(), keys: s.optional(s.bool()) }),
  timeToLiveResponse: s.object({
    header: responseHeaderSchema,
    id: s.uint(),
    ttlMs: s.uint(),
    grantedTtlMs: s.uint(),
    keys: s.array(s.bytes()),
  }),
  list: s.object({ limit: s.optional(s.uint()) }),
  listResponse: s.object({
    header: responseHeaderSchema,
    leases: s.array(s.object({ id: s.uint(), ttlMs: s.uint(), grantedTtlMs: s.uint(), keyCount: s.uint() }), { maxLength: leaseIdsMax }),
    more: s.bool(),
  }),
};
// Watches and compaction (watch-types.ts).
const watchBatchesMax = 100_000;
export const watchSchemas = {
  create: s.object({
    watchId: s.uint(),
    key: s.optional(s.bytes()),
    prefix: s.optional(s.bytes()),
    start: s.optional(s.bytes()),
    end: s.optional(s.bytes()),
    startRevision: s.optional(s.uint()),
    prevKv: s.optional(s.bool()),
    noPut: s.optional(s.bool()),
    noDelete: s.optional(s.bool()),
    progressNotify: s.optional(s.bool()),
  }),
  created: s.object({ header: responseHeaderSchema, watchId: s.uint(), startRevision: s.uint() }),
  cancel: s.object({ watchId: s.uint() }),
  canceled: s.object({ header: responseHeaderSchema, canceled: s.bool() }),
  poll: s.object({ waitMs: s.uint(), progress: s.optional(s.bool()), paused: s.optional(s.array(s.uint(), { maxLength: watchBatchesMax })) }),
  polled: s.object({
    header: responseHeaderSchema,
    batches: s.array(
      s.object({
        watchId: s.uint(),
        watchIds: s.optional(s.array(s.uint(), { maxLength: watchBatchesMax })),
        events: s.array(s.object({ type: s.oneOf('put', 'delete'), kv: keyValueSchema, prevKv: s.optional(keyValueSchema) })),
        progressRevision: s.uint(),
        canceled: s.optional(s.object({ code: s.string(), message: s.string(), details: s.record(s.union(s.uint(), s.string())) })),
      }),
      { maxLength: watchBatchesMax },
    ),
  }),
  compact: s.object({ revision: s.uint() }),
  compacted: s.object({ header: responseHeaderSchema }),
};

// The session table at a glance (session-status-types.ts).
const sessionListMax = 100;
const sessionSummarySchema = s.object({ id: s.uint(), owner: s.string(), ttlMs: s.uint(), expiresInMs: s.uint(), savedResults: s.uint(), savedResultBytes: s.uint() });
export const sessionListSchemas = {
  request: s.object({ limit: s.optional(s.uint()) }),
  response: s.object({
    header: responseHeaderSchema,
    count: s.uint(),
    tableBytes: s.uint(),
    largest: s.array(sessionSummarySchema, { maxLength: sessionListMax }),
    expiringFirst: s.array(sessionSummarySchema, { maxLength: sessionListMax }),
  }),
};
// Transactions (txn.ts). Nested transactions make ops and results recursive: the schema
// recurses lazily, and msgpack's decode depth bound keeps the recursion bounded.

/** A schema defined in terms of itself (nested transactions), resolved on first use. */
class LazySchema<T> extends Schema<T> {
  private resolved: Schema<T> | null = null;
  constructor(
    readonly description: string,
    private readonly build: () => Schema<T>,
  ) {
    super();
  }
  private get schema(): Schema<T> {
    return (this.resolved ??= this.build());
  }
  is(value: unknown): value is T {
    return this.schema.is(value);
  }
  override explain(value: unknown, path = ''): SchemaFailure {
    return this.schema.explain(value, path);
  }
}

const opType = s.oneOf('get', 'scan', 'put', 'update', 'delete', 'txn', 'incr');

export const compareSchema: Schema<WireCompare> = s.object({
  key: s.bytes(),
  rangeEnd: s.optional(s.bytes()),
  target: s.oneOf('value', 'version', 'createRevision', 'modRevision', 'lease'),
  op: s.oneOf('=', '!=', '<', '>'),
  value: s.optional(s.bytes()),
  version: s.optional(s.uint()),
  createRevision: s.optional(s.uint()),
  modRevision: s.optional(s.uint()),
  lease: s.optional(s.uint()),
});

export const txnOpSchema: Schema<WireTxnOp> = new LazySchema<WireTxnOp>('transaction op', () =>
  s.object({
    type: opType,
    key: s.optional(s.bytes()),
    rangeEnd: s.optional(s.bytes()),
    value: s.optional(s.bytes()),
    limit: s.optional(s.uint()),
    lease: s.optional(s.uint()),
    ttlMs: s.optional(s.uint()),
    expiresAtMs: s.optional(s.uint()),
    keepTtl: s.optional(s.bool()),
    keepValue: s.optional(s.bool()),
    by: s.optional(s.bytes()),
    float: s.optional(s.bool()),
    compare: s.optional(s.array(compareSchema)),
    success: s.optional(s.array(txnOpSchema)),
    failure: s.optional(s.array(txnOpSchema)),
  }),
);

export const txnOpResultSchema: Schema<WireTxnOpResult> = new LazySchema<WireTxnOpResult>('transaction op result', () =>
  s.object({
    type: opType,
    value: s.optional(s.bytes()),
    kv: s.optional(s.nullable(keyValueSchema)),
    kvs: s.optional(s.array(keyValueSchema)),
    more: s.optional(s.bool()),
    version: s.optional(s.uint()),
    createRevision: s.optional(s.uint()),
    modRevision: s.optional(s.uint()),
    deleted: s.optional(s.uint()),
    succeeded: s.optional(s.bool()),
    results: s.optional(s.array(txnOpResultSchema)),
  }),
);

export const txnRequestSchema = s.object({
  compare: s.array(compareSchema),
  success: s.array(txnOpSchema),
  failure: s.array(txnOpSchema),
  session: s.optional(sessionRefSchema),
  consistency: s.optional(s.oneOf('linearizable', 'stale')),
});

export const txnResponseSchema = s.object({
  header: responseHeaderSchema,
  succeeded: s.bool(),
  revision: s.uint(),
  results: s.array(txnOpResultSchema),
});

/**
 * The client method table (net layer RPC). Ids go on the wire and are never
 * reused for a different shape; the names are the `Method` strings.
 */
export const clientMethods = defineMethods({
  'kv.get': { id: 1, request: getRequestSchema, response: getResponseSchema },
  'kv.put': { id: 2, request: putRequestSchema, response: writeResponseSchema },
  'kv.update': { id: 3, request: updateRequestSchema, response: writeResponseSchema },
  'kv.delete': { id: 4, request: deleteRequestSchema, response: deleteResponseSchema },
  'kv.scan': { id: 5, request: scanRequestSchema, response: scanResponseSchema },
  'session.open': { id: 6, request: openSessionRequestSchema, response: openSessionResponseSchema },
  'session.keepAlive': { id: 7, request: keepAliveRequestSchema, response: keepAliveResponseSchema },
  'session.close': { id: 8, request: closeSessionRequestSchema, response: closeSessionResponseSchema },
  'session.list': { id: 15, request: sessionListSchemas.request, response: sessionListSchemas.response },
  'cluster.status': { id: 9, request: statusRequestSchema, response: statusResponseSchema },
  'kv.txn': { id: 10, request: txnRequestSchema, response: txnResponseSchema },
  'auth.authenticate': { id: 20, request: authSchemas.authenticate, response: okResponse },
  'user.add': { id: 21, request: authSchemas.userAdd, response: okResponse },
  'user.delete': { id: 22, request: nameRequest, response: okResponse },
  'user.passwd': { id: 23, request: authSchemas.userAdd, response: okResponse },
  'user.grantRole': { id: 24, request: authSchemas.userRole, response: okResponse },
  'user.revokeRole': { id: 25, request: authSchemas.userRole, response: okResponse },
  'role.add': { id: 26, request: nameRequest, response: okResponse },
  'role.delete': { id: 27, request: nameRequest, response: okResponse },
  'role.grantPermission': { id: 28, request: authSchemas.grant, response: okResponse },
  'role.revokePermission': { id: 29, request: authSchemas.revoke, response: okResponse },
  'auth.enable': { id: 30, request: emptyRequest, response: okResponse },
  'auth.disable': { id: 31, request: emptyRequest, response: okResponse },
  'user.get': { id: 32, request: nameRequest, response: authSchemas.userGet },
  'user.list': { id: 33, request: emptyRequest, response: authSchemas.userList },
  'role.get': { id: 34, request: nameRequest, response: authSchemas.roleGet },
  'role.list': { id: 35, request: emptyRequest, response: authSchemas.roleList },
  'auth.status': { id: 36, request: emptyRequest, response: authSchemas.status },
  'member.list': { id: 40, request: memberSchemas.listRequest, response: memberSchemas.listResponse },
  'member.add': { id: 41, request: memberSchemas.addRequest, response: memberSchemas.changeResponse },
  'member.promote': { id: 42, request: memberSchemas.promoteRequest, response: memberSchemas.changeResponse },
  'member.remove': { id: 43, request: memberSchemas.removeRequest, response: memberSchemas.changeResponse },
  'leader.transfer': { id: 44, request: memberSchemas.transferRequest, response: memberSchemas.transferResponse },
  'snapshot.save': { id: 60, request: snapshotSaveRequestSchema, response: snapshotSaveResponseSchema },
  'lease.grant': { id: 50, request: leaseSchemas.grant, response: leaseSchemas.granted },
  'lease.revoke': { id: 51, request: leaseSchemas.revoke, response: leaseSchemas.revoked },
  'lease.keepAlive': { id: 52, request: leaseSchemas.keepAlive, response: leaseSchemas.keptAlive },
  'lease.timeToLive': { id: 53, request: leaseSchemas.timeToLive, response: leaseSchemas.timeToLiveResponse },
  'lease.list': { id: 54, request: leaseSchemas.list, response: leaseSchemas.listResponse },
  'kv.compact': { id: 11, request: watchSchemas.compact, response: watchSchemas.compacted },
  'watch.create': { id: 70, request: watchSchemas.create, response: watchSchemas.created },
  'watch.cancel': { id: 71, request: watchSchemas.cancel, response: watchSchemas.canceled },
  'watch.poll': { id: 72, request: watchSchemas.poll, response: watchSchemas.polled },
});
export type ClientMethods = typeof clientMethods;

/** Every Method has an entry in the table, and nothing else does. */
export type MethodTableCovers = Check<Same<MethodName<ClientMethods>, Method>>;

// ------------------------------------------------------------------------
// Compile-time proof that the schemas and the hand-written types agree.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Check<X extends true> = X;
type Loose<X> = X extends Uint8Array ? Uint8Array : X extends readonly (infer I)[] ? Loose<I>[] : X extends object ? { -readonly [K in keyof X]: Loose<X[K]> } : X;
export type SchemaTypeChecks = [
  Check<Same<Loose<Infer<typeof getRequestSchema>>, Loose<T.GetRequest>>>,
  Check<Same<Loose<Infer<typeof getResponseSchema>>, Loose<T.GetResponse>>>,
  Check<Same<Loose<Infer<typeof putRequestSchema>>, Loose<T.PutRequest>>>,
  Check<Same<Loose<Infer<typeof writeResponseSchema>>, Loose<T.WriteResponse>>>,
  Check<Same<Loose<Infer<typeof deleteRequestSchema>>, Loose<T.DeleteRequest>>>,
  Check<Same<Loose<Infer<typeof deleteResponseSchema>>, Loose<T.DeleteResponse>>>,
  Check<Same<Loose<Infer<typeof scanRequestSchema>>, Loose<T.ScanRequest>>>,
  Check<Same<Loose<Infer<typeof scanResponseSchema>>, Loose<T.ScanResponse>>>,
  Check<Same<Loose<Infer<typeof openSessionResponseSchema>>, Loose<T.OpenSessionResponse>>>,
  Check<Same<Loose<Infer<typeof statusResponseSchema>>, Loose<T.StatusResponse>>>,
  Check<Same<Loose<Infer<typeof snapshotSaveRequestSchema>>, Loose<T.SnapshotSaveRequest>>>,
  Check<Same<Loose<Infer<typeof snapshotSaveResponseSchema>>, Loose<T.SnapshotSaveResponse>>>,
  Check<Same<Loose<Infer<typeof leaseSchemas.timeToLiveResponse>>, Loose<L.LeaseTimeToLiveResponse>>>,
  Check<Same<Loose<Infer<typeof leaseSchemas.listResponse>>, Loose<L.LeaseListResponse>>>,
  Check<Same<Loose<Infer<typeof sessionListSchemas.response>>, Loose<S.SessionListResponse>>>,
  Check<Same<Loose<Infer<typeof txnRequestSchema>>, Loose<TxnRequest>>>,
  Check<Same<Loose<Infer<typeof txnResponseSchema>>, Loose<TxnResponse>>>,
  Check<Same<Loose<Infer<typeof watchSchemas.create>>, Loose<W.WatchCreateRequest>>>,
  Check<Same<Loose<Infer<typeof watchSchemas.polled>>, Loose<W.WatchPollResponse>>>,
];

/** MethodTypes (hand-written) and the table agree for every method. */
export type MethodTypesChecks = [
  Check<Same<Loose<{ [M in Method]: RequestOf<ClientMethods, M> }>, Loose<{ [M in Method]: MethodTypes[M]['request'] }>>>,
  Check<Same<Loose<{ [M in Method]: ResponseOf<ClientMethods, M> }>, Loose<{ [M in Method]: MethodTypes[M]['response'] }>>>,
];
