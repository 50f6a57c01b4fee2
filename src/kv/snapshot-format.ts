/**
 * The snapshot stream of the key-value state machine.
 *
 *   header:  "CKVS" | u8 formatVersion (1, 2 or 3)
 *   blocks:  u32 payloadBytes | payload | u32 crc32c(payload)      (big-endian)
 *   payload: u8 kind | body
 *     META (1)      varint appliedIndex, clockMs, entryCount, sessionCount
 *                   [format 3: varint leaseCount]
 *     ENTRIES (2)   u32 count | count x (key, value as varint length + bytes;
 *                   varint version, createRevision, modRevision
 *                   [format 3: varint lease, expiresAtMs])
 *     SESSIONS (3)  u32 count | count x (varint id, ttlMs, deadlineMs, ackedSeq,
 *                   resultCount | resultCount x (varint seq, result))
 *     AUTH (5)      formats 2 and 3: users, roles and the auth switch
 *                   (AuthState.write in auth-state.ts)
 *     LEASES (6)    format 3 only: u32 count | count x (varint id,
 *                   grantedTtlMs, expiresAtMs), ids increasing (lease-codec.ts)
 *     END (4)       empty
 *
 * Blocks come in the order META, ENTRIES*, SESSIONS*, [AUTH], LEASES*, END, and
 * nothing may follow END. Formats 2 and 3 have exactly one AUTH block, format 1 none.
 * Format 3 is written only while a lease or a key TTL exists (the same
 * upgrade rule as for auth below: every member must run a version that reads
 * format 3 before the first lease is granted); a key's lease and expiry
 * time are in its entry, so the keys of each lease are rebuilt from them.
 * A writer uses format 1 while no auth command has ever taken effect (the
 * auth state is pristine): a cluster that does not use auth keeps writing the
 * same bytes as members that predate auth, so members can be upgraded one at
 * a time. Every member must be upgraded before the first auth command (an
 * older member refuses it and a format-2 snapshot). Each block is checksummed on its own, so a reader rejects
 * corruption as soon as it reads the damaged block; the totals in META, the
 * strict key order and the END block catch lost, repeated or reordered blocks
 * and truncation. The format is deterministic: equal states give equal bytes.
 */
export const SNAPSHOT_MAGIC = Uint8Array.of(0x43, 0x4b, 0x56, 0x53); // "CKVS"
export const SNAPSHOT_FORMAT_VERSION = 3;
/** The format with an AUTH block and no lease state, still read, and still written while no lease or key TTL exists. */
export const SNAPSHOT_FORMAT_VERSION_AUTH = 2;
/** The format without an AUTH block, still read, and still written for a pristine auth state. */
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
