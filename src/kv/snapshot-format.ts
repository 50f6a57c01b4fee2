/**
 * The snapshot stream of the key-value state machine.
 *
 *   header:  "CKVS" | u8 formatVersion (1, 2, 3 or 4)
 *   blocks:  u32 payloadBytes | payload | u32 crc32c(payload)      (big-endian)
 *   payload: u8 kind | body
 *     META (1)      varint appliedIndex, clockMs, entryCount, sessionCount,
 *                   and in formats 3 and 4: varint revision (the store revision),
 *                   leaseCount, and in format 4: varint compactRevision
 *     ENTRIES (2)   u32 count | count x (key, value as varint length + bytes;
 *                   varint version, createRevision, modRevision, and in
 *                   format 3: varint lease, expiresAtMs, the key's own TTL
 *                   deadline or 0)
 *     SESSIONS (3)  u32 count | count x (varint id, ttlMs, deadlineMs, ackedSeq,
 *                   [format 3: owner as varint length + UTF-8,]
 *                   resultCount | resultCount x (varint seq, result))
 *                   where a result is the compact form sessions keep
 *                   (result-codec.ts, saved-result.ts)
 *     AUTH (5)      formats 2 and 3: users, roles and the auth switch
 *                   (AuthState.write in auth-state.ts)
 *     LEASES (6)    format 3 only: u32 count | count x (varint id,
 *                   grantedTtlMs, expiresAtMs), ids increasing (lease-codec.ts)
 *     END (4)       empty
 *
 * Blocks come in the order META, ENTRIES*, SESSIONS*, [AUTH], LEASES*, END, and
 * nothing may follow END. Format 2 has exactly one AUTH block, format 1 none,
 * format 3 one when the auth state is not pristine (an auth command has taken
 * effect) and none otherwise.
 *
 * Format 3 is what members write now, whatever the state: the store revision
 * (etcd's model), each key's lease and own TTL deadline, each session's owner
 * (the user its quota counts, session-quotas.ts) and the lease table (leases.ts;
 * the keys of each lease are rebuilt from the entries' lease ids). It replaces
 * formats 1 and 2 for writing because their revisions were Raft indexes.
 * Formats 1 and 2 are still read: the restored store revision is the
 * snapshot's appliedIndex (at least every revision those members ever
 * answered, so revisions stay monotonic for clients across the upgrade), keys
 * have no lease and sessions are anonymous. A member that predates format 3
 * cannot read it: upgrade every member before the first snapshot is sent to a
 * lagging one (as for auth, which needed format 2). Each block is checksummed on its own, so a reader rejects
 * corruption as soon as it reads the damaged block; the totals in META, the
 * strict key order and the END block catch lost, repeated or reordered blocks
 * and truncation. The format is deterministic: equal states give equal bytes.
 *
 * Format 4 is format 3 plus the replicated compaction revision (history.ts)
 * at the end of META. It is written only once a compaction has taken effect
 * (compactRevision > 0); until then members write the format-3 bytes, so a
 * cluster can be upgraded member by member before anyone compacts. The
 * revision history itself is not in any format (see history.ts).
 */
export const SNAPSHOT_MAGIC = Uint8Array.of(0x43, 0x4b, 0x56, 0x53); // "CKVS"
export const SNAPSHOT_FORMAT_VERSION = 3;
/** Format 3 with the compaction revision in META: written once a compaction took effect. */
export const SNAPSHOT_FORMAT_VERSION_COMPACTED = 4;
/** The format with index-based revisions and an AUTH block: still read. */
export const SNAPSHOT_FORMAT_VERSION_AUTH = 2;
/** The format with index-based revisions and no AUTH block: still read. */
export const SNAPSHOT_FORMAT_VERSION_NO_AUTH = 1;
export const SNAPSHOT_HEADER_BYTES = SNAPSHOT_MAGIC.length + 1;

export const BlockKind = { Meta: 1, Entries: 2, Sessions: 3, End: 4, Auth: 5, Leases: 6 } as const;
export type BlockKind = (typeof BlockKind)[keyof typeof BlockKind];

/**
 * Largest block a reader accepts: one entry may not be split across blocks, so
 * this bounds keyBytesMax + valueBytesMax (checked by resolveKvOptions), and it
 * bounds the memory a corrupt length field can make a reader allocate.
 */
export const SNAPSHOT_BLOCK_BYTES_MAX = 64 * 1024 * 1024;

/** Bytes of framing around a block payload: length before, checksum after. */
export const BLOCK_FRAMING_BYTES = 8;
