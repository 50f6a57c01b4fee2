/**
 * The member-to-member wire protocol, spoken on each member's peer URL.
 *
 * One-way messages (over a PeerLink per remote member, fire-and-forget: Raft
 * tolerates loss, duplication and reordering, and retries on its own):
 * - `raft` (id 1): one Raft message as the core produced it
 *   (src/raft/messages.ts), validated field by field on receipt; an
 *   AppendEntries carries its entries packed into one byte string
 *   (packed-entries.ts: the leader's per-follower encoding and each
 *   follower's decoding cost far less than one map per entry).
 * - `hello` (id 2): a member announces its name and URLs, on every
 *   (re)connection and periodically, so that every member learns the others'
 *   client URLs (for leader hints in responses) and RESP URLs (for MOVED in
 *   emulated Redis Cluster mode) without extra configuration.
 *
 * RPC (forwarding): the client methods (`clientMethods`, same ids and
 * schemas). A follower forwards a write or linearizable read to the leader's
 * peer URL with the client's request unchanged (session and seq included, so
 * exactly-once holds across forwarding); the leader serves it without
 * forwarding again (no loops) and answers NotLeader if it lost leadership.
 *
 * This lives in src/server rather than src/protocol because it needs the Raft
 * message types, and the layer rules keep src/protocol independent of src/raft.
 */
import { defineMessages, Schema, describe, s, type Infer, type SchemaFailure } from '../net/index.js';
import type { Message } from '../raft/index.js';
import { packedEntriesFailure, unpackEntries, type EntryPacker } from './packed-entries.js';

const nodeId = s.string({ maxLength: 64 });
const bytes = s.bytes();

/** AppendEntries.entries on the wire: see packed-entries.ts. */
class PackedEntriesSchema extends Schema<Uint8Array> {
  readonly description = 'packed log entries';
  is(value: unknown): value is Uint8Array {
    return value instanceof Uint8Array && packedEntriesFailure(value) === null;
  }
  override explain(value: unknown, path = ''): SchemaFailure {
    const found = value instanceof Uint8Array ? (packedEntriesFailure(value) ?? 'well-formed') : describe(value);
    return { path, expected: this.description, found };
  }
}

const confStateSchema = s.object({
  voters: s.array(nodeId),
  learners: s.array(nodeId),
  votersOutgoing: s.array(nodeId),
  learnersNext: s.array(nodeId),
  autoLeave: s.bool(),
});

const snapshotMetadataSchema = s.object({ index: s.uint(), term: s.uint(), conf: confStateSchema });

const base = { from: nodeId, to: nodeId, term: s.uint() };

/** One schema per Raft message type, keyed by the `type` tag. */
const raftMessageSchemas = {
  RequestVote: s.object({ ...base, type: s.literal('RequestVote'), lastLogIndex: s.uint(), lastLogTerm: s.uint(), transfer: s.bool() }),
  RequestPreVote: s.object({ ...base, type: s.literal('RequestPreVote'), lastLogIndex: s.uint(), lastLogTerm: s.uint() }),
  RequestVoteResponse: s.object({ ...base, type: s.literal('RequestVoteResponse'), granted: s.bool() }),
  RequestPreVoteResponse: s.object({ ...base, type: s.literal('RequestPreVoteResponse'), granted: s.bool() }),
  AppendEntries: s.object({
    ...base,
    type: s.literal('AppendEntries'),
    prevLogIndex: s.uint(),
    prevLogTerm: s.uint(),
    entries: new PackedEntriesSchema(),
    leaderCommit: s.uint(),
  }),
  AppendEntriesResponse: s.object({
    ...base,
    type: s.literal('AppendEntriesResponse'),
    success: s.bool(),
    index: s.uint(),
    conflictTerm: s.uint(),
    conflictIndex: s.uint(),
  }),
  Heartbeat: s.object({ ...base, type: s.literal('Heartbeat'), commit: s.uint(), context: bytes }),
  HeartbeatResponse: s.object({ ...base, type: s.literal('HeartbeatResponse'), context: bytes }),
  InstallSnapshot: s.object({
    ...base,
    type: s.literal('InstallSnapshot'),
    snapshot: snapshotMetadataSchema,
    offset: s.uint(),
    data: bytes,
    done: s.bool(),
  }),
  InstallSnapshotResponse: s.object({
    ...base,
    type: s.literal('InstallSnapshotResponse'),
    snapshotIndex: s.uint(),
    nextOffset: s.uint(),
    done: s.bool(),
  }),
  TimeoutNow: s.object({ ...base, type: s.literal('TimeoutNow') }),
  ReadIndex: s.object({ ...base, type: s.literal('ReadIndex'), context: bytes }),
  ReadIndexResponse: s.object({ ...base, type: s.literal('ReadIndexResponse'), index: s.uint(), context: bytes }),
  TransferLeader: s.object({ ...base, type: s.literal('TransferLeader'), transferee: nodeId }),
};

type WireMessage = Infer<(typeof raftMessageSchemas)[keyof typeof raftMessageSchemas]>;

/** Dispatches on the `type` tag: one lookup instead of trying every variant. */
class RaftMessageSchema extends Schema<WireMessage> {
  readonly description = 'Raft message';
  is(value: unknown): value is WireMessage {
    if (typeof value !== 'object' || value === null) return false;
    const type = (value as { type?: unknown }).type;
    if (typeof type !== 'string' || !Object.prototype.hasOwnProperty.call(raftMessageSchemas, type)) return false;
    return raftMessageSchemas[type as keyof typeof raftMessageSchemas].is(value);
  }
  override explain(value: unknown, path = ''): SchemaFailure {
    const type = typeof value === 'object' && value !== null ? (value as { type?: unknown }).type : undefined;
    if (typeof type === 'string' && Object.prototype.hasOwnProperty.call(raftMessageSchemas, type)) {
      return raftMessageSchemas[type as keyof typeof raftMessageSchemas].explain(value, path);
    }
    return { path: path === '' ? 'type' : `${path}.type`, expected: Object.keys(raftMessageSchemas).join(' | '), found: describe(type) };
  }
}

export const raftMessageSchema = new RaftMessageSchema();

export const helloSchema = s.object({
  name: nodeId,
  clientUrl: s.string({ maxLength: 1024 }),
  peerUrl: s.string({ maxLength: 1024 }),
  /** Where the sender serves the Redis protocol (--resp-url, the bound address); absent when it does not (emulated Redis Cluster: MOVED names it). */
  respUrl: s.optional(s.string({ maxLength: 1024 })),
  /** Sent by a member about to bootstrap an empty data directory: answer with a hello carrying `log` (bootstrap-probe.ts). */
  replyWanted: s.optional(s.bool()),
  /** The sender's Raft state, in an answer: `probing` while it is itself deciding whether to bootstrap. */
  log: s.optional(s.object({ probing: s.bool(), term: s.uint(), lastLogIndex: s.uint() })),
  /**
   * The sender's cluster ID (cluster-id.ts); a probing member sends its
   * candidate. Optional on the wire only so that a hello without one is
   * refused with a clear log line rather than closed as bad input.
   */
  clusterId: s.optional(s.string({ maxLength: 64 })),
  /**
   * In an answer to a probe: the prober's place in the answering member's
   * member table (`addedAt`: index of the change that added it, 0 when it is
   * not a member). A member starting with --initial-cluster-state existing
   * reads it (bootstrap-probe.ts).
   */
  you: s.optional(s.object({ member: s.bool(), addedAt: s.uint(), removed: s.bool() })),
  /** Sent back to a member that was removed from the cluster: it stops (it must not campaign or keep asking). */
  removed: s.optional(s.bool()),
});
export type Hello = Infer<typeof helloSchema>;

/**
 * The largest term a member adopts from any peer message without further
 * condition (issue 12 §1: no message can make the term unusable). Above it, a
 * message is delivered only when its term is at most the member's own term
 * plus one (a peer's next campaign), so the term climbs one election at a
 * time up to Number.MAX_SAFE_INTEGER, every value of which the schemas
 * accept; one message can never jump it to the end of the term space. An
 * honest cluster needs 2^53 - 2^32 elections to get there.
 */
export const termAdoptMax = Number.MAX_SAFE_INTEGER - 2 ** 32;

/** Whether a member at term `ownTerm` may deliver a peer message of term `term` to its core (see termAdoptMax). */
export function termAcceptable(term: number, ownTerm: number): boolean {
  return term <= termAdoptMax || term <= ownTerm + 1;
}

export const peerMessages = defineMessages({
  raft: { id: 1, schema: raftMessageSchema },
  hello: { id: 2, schema: helloSchema },
});
export type PeerMessages = typeof peerMessages;

/** A validated wire message as the core message it stands for (the schemas mirror src/raft/messages.ts). */
export function toRaftMessage(wire: WireMessage): Message {
  if (wire.type === 'AppendEntries') return { ...wire, entries: unpackEntries(wire.entries, wire.prevLogIndex + 1) } as Message;
  return wire as Message;
}

/** A core message as the wire body (same shape, but an append's entries packed; the core's arrays are readonly). */
export function fromRaftMessage(message: Message, packer: EntryPacker): WireMessage {
  if (message.type === 'AppendEntries') return { ...message, entries: packer.pack(message.entries) } as WireMessage;
  return message as unknown as WireMessage;
}

// Compile-time proof that every core message type has a schema and the shapes agree.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Check<X extends true> = X;
type Loose<X> = X extends Uint8Array ? Uint8Array : X extends readonly (infer I)[] ? Loose<I>[] : X extends object ? { -readonly [K in keyof X]: Loose<X[K]> } : X;
/** A core message as it travels: an append's entries packed into bytes. */
type OnTheWire<M> = M extends { type: 'AppendEntries' } ? Omit<M, 'entries'> & { entries: Uint8Array } : M;
export type RaftWireChecks = [
  Check<Same<keyof typeof raftMessageSchemas, Message['type']>>,
  Check<Same<Loose<WireMessage>, Loose<OnTheWire<Message>>>>,
];
