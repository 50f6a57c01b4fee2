/**
 * # Concord's client protocol
 *
 * What a client (src/client, src/cli, or anything speaking the net layer's
 * RPC) sends to a Concord member and what it gets back.
 *
 * - Transport: the net layer's RPC over the member's client URL
 *   (`tcp://host:port`, `unix:///path.sock`, ...). Many calls may be in flight
 *   on one connection; answers come back in any order.
 * - Methods (`Method`): `kv.get`, `kv.put`, `kv.update`, `kv.delete`,
 *   `kv.scan`, `kv.txn`, `session.open`, `session.keepAlive`, `session.close`,
 *   `cluster.status`, users/roles/auth, membership, `snapshot.save` (backups, paged),
 *   `lease.grant`, `lease.revoke`, `lease.keepAlive`, `lease.timeToLive`,
 *   `lease.list` (lease-types.ts), `session.list` (session-status-types.ts). Request/response types per method: `MethodTypes`.
 *   Schemas that validate them on the wire: `clientMessages` (schemas.ts).
 * - Any member serves any method. A follower forwards writes and
 *   linearizable reads to the leader and answers; every response's `header`
 *   carries `leaderClientUrl` so a client can go straight to the leader next time.
 * - Errors are the net layer's remote errors with a stable `code` from
 *   `ErrorCode` and a `details` object (documented per code). Retry when
 *   `isRetryableCode(code)`; for NotLeader/LeaderChanged/ShuttingDown,
 *   `details.leaderClientUrl` (if not null) is where to retry.
 * - Exactly-once writes (Raft thesis §6.3): call `session.open` once, then
 *   number writes 1, 2, 3... in `session.seq`; on a timeout or a retryable
 *   error, resend the SAME request (same seq). The state machine applies it
 *   at most once and answers a retry with the original result. Set
 *   `session.ackedSeq` to the highest seq below which every response has been
 *   received (lets the server forget old results). Keep the session alive
 *   with `session.keepAlive` more often than its `ttlMs`.
 * - Reads default to `consistency: 'linearizable'`; `'stale'` serves from the
 *   contacted member's local copy.
 * - The member-to-member protocol (Raft messages, hellos, forwarded requests)
 *   is in src/server/peer-protocol.ts (it needs the Raft message types, which
 *   this layer may not import). Operations guide: docs/operations.md.
 */
export * from './types.js';
export * from './methods.js';
export * from './error-codes.js';
export * from './server-error.js';
export * from './schemas.js';
export type * from './watch-types.js';
export * from './session-status-types.js';
export * from './auth-types.js';
export * from './member-types.js';
export * from './lease-types.js';
export * from './txn.js';
