/**
 * Reads the snapshot stream (format: snapshot-format.ts) incrementally: push
 * chunks of any size as they arrive, then `finish()`. Everything is validated
 * (magic, version, per-block checksums, block order, strict key order, field
 * ranges, totals, the END block, nothing after it); the first problem throws
 * CorruptSnapshotError and the reader refuses further input. The state being
 * built is private to the reader until `finish()` hands it over, so a corrupt
 * snapshot never changes a live state machine.
 */
import { ByteReader } from './bytes.js';
import { crc32c } from './crc32c.js';
import { CorruptSnapshotError } from './errors.js';
import { newKeyTree, StoredEntry, type KeyTree } from './key-tree.js';
import { readResult } from './result-codec.js';
import { compactResult, type SavedResult } from './saved-result.js';
import { ANONYMOUS_OWNER } from './session-quotas.js';
import { SessionTable } from './sessions.js';
import { AuthState } from './auth-state.js';
import { readLeaseRecords } from './lease-codec.js';
import { LeaseTable } from './leases.js';
import {
  BlockKind,
  SNAPSHOT_BLOCK_BYTES_MAX,
  SNAPSHOT_FORMAT_VERSION,
  SNAPSHOT_FORMAT_VERSION_COMPACTED,
  SNAPSHOT_FORMAT_VERSION_AUTH,
  SNAPSHOT_FORMAT_VERSION_NO_AUTH,
  SNAPSHOT_HEADER_BYTES,
  SNAPSHOT_MAGIC,
} from './snapshot-format.js';
import { binaryStringFromBytes, copyBytes, type BinaryString } from './bytes.js';
import { AUTH_NAME_BYTES_MAX } from './auth-types.js';

/** The state a complete, valid snapshot describes. */
export interface RestoredState {
  readonly appliedIndex: number;
  /** The store revision (formats 1 and 2: the appliedIndex, see snapshot-format.ts). */
  readonly revision: number;
  readonly clockMs: number;
  readonly tree: KeyTree;
  readonly sessions: SessionTable;
  /** Empty (pristine) for a snapshot without an AUTH block. */
  readonly auth: AuthState;
  /** Empty for a format-1 or -2 snapshot. */
  readonly leases: LeaseTable;
  /** The replicated compaction revision (format 4; 0 before). */
  readonly compactRevision: number;
}

const Stage = { Header: 0, Length: 1, Body: 2, Done: 3, Failed: 4 } as const;
type Stage = (typeof Stage)[keyof typeof Stage];

interface Meta {
  readonly appliedIndex: number;
  readonly clockMs: number;
  readonly entryCount: number;
  readonly sessionCount: number;
  readonly revision: number;
  readonly leaseCount: number;
  readonly compactRevision: number;
}

export class SnapshotReader {
  private stage: Stage = Stage.Header;
  private target = new Uint8Array(SNAPSHOT_HEADER_BYTES);
  private filled = 0;
  private failure: CorruptSnapshotError | null = null;

  private meta: Meta | null = null;
  private lastBlockKind: number = 0;
  private readonly tree = newKeyTree();
  private lastKey: BinaryString | null = null;
  private entriesSeen = 0;
  private readonly sessions = new SessionTable();
  private lastSessionId = 0;
  private bytesSeen = 0;
  private formatVersion = 0;
  private auth: AuthState | null = null;
  private readonly leases = new LeaseTable();
  private lastLeaseId = 0;

  /** `keyBytesMax` bounds the keys of the permissions read (as it bounds them on apply). */
  constructor(private readonly keyBytesMax: number = Number.MAX_SAFE_INTEGER) {}

  private readonly fail = (reason: string): never => {
    this.stage = Stage.Failed;
    this.failure = new CorruptSnapshotError({ reason: `${reason} (at byte ${this.bytesSeen})` });
    throw this.failure;
  };

  /** Feeds the next bytes of the stream (any chunking). */
  push(chunk: Uint8Array): void {
    if (this.failure) throw this.failure;
    let off = 0;
    while (off < chunk.length) {
      if (this.stage === Stage.Done) this.fail(`${chunk.length - off} bytes after the END block`);
      const take = Math.min(this.target.length - this.filled, chunk.length - off);
      this.target.set(chunk.subarray(off, off + take), this.filled);
      this.filled += take;
      off += take;
      this.bytesSeen += take;
      if (this.filled === this.target.length) this.complete();
    }
  }

  /** Ends the stream; returns the restored state or throws CorruptSnapshotError. */
  finish(): RestoredState {
    if (this.failure) throw this.failure;
    if (this.stage !== Stage.Done) this.fail('truncated: the stream ended before the END block');
    const meta = this.meta!;
    return {
      appliedIndex: meta.appliedIndex,
      revision: meta.revision,
      clockMs: meta.clockMs,
      tree: this.tree,
      sessions: this.sessions,
      auth: this.auth ?? new AuthState(),
      leases: this.leases,
      compactRevision: meta.compactRevision,
    };
  }

  /** Formats 3 and 4: store revision, leases, session owners. */
  private get withLeases(): boolean {
    return this.formatVersion === SNAPSHOT_FORMAT_VERSION || this.formatVersion === SNAPSHOT_FORMAT_VERSION_COMPACTED;
  }

  private expect(bytes: number, stage: Stage): void {
    this.target = new Uint8Array(bytes);
    this.filled = 0;
    this.stage = stage;
  }

  private complete(): void {
    const t = this.target;
    switch (this.stage) {
      case Stage.Header:
        for (let i = 0; i < SNAPSHOT_MAGIC.length; i++) {
          if (t[i] !== SNAPSHOT_MAGIC[i]) this.fail('not a key-value snapshot (bad magic)');
        }
        if (t[4] !== SNAPSHOT_FORMAT_VERSION_COMPACTED && t[4] !== SNAPSHOT_FORMAT_VERSION && t[4] !== SNAPSHOT_FORMAT_VERSION_AUTH && t[4] !== SNAPSHOT_FORMAT_VERSION_NO_AUTH) {
          this.fail(`unsupported snapshot format version ${t[4]}`);
        }
        this.formatVersion = t[4]!;
        this.expect(4, Stage.Length);
        return;
      case Stage.Length: {
        const payloadBytes = new DataView(t.buffer).getUint32(0);
        if (payloadBytes < 1 || payloadBytes > SNAPSHOT_BLOCK_BYTES_MAX) this.fail(`bad block length ${payloadBytes}`);
        this.expect(payloadBytes + 4, Stage.Body);
        return;
      }
      case Stage.Body: {
        const payloadBytes = t.length - 4;
        const stored = new DataView(t.buffer).getUint32(payloadBytes);
        if (crc32c(t.subarray(0, payloadBytes)) !== stored) this.fail('block checksum mismatch');
        this.readBlock(new ByteReader(t, this.fail, 0, payloadBytes));
        if (this.stage === Stage.Body) this.expect(4, Stage.Length);
        return;
      }
      default:
        this.fail('internal: unexpected reader stage');
    }
  }

  private readBlock(r: ByteReader): void {
    const kind = r.u8();
    const previous = this.lastBlockKind;
    switch (kind) {
      case BlockKind.Meta:
        if (previous !== 0) this.fail('META block not first');
        this.readMeta(r);
        break;
      case BlockKind.Entries:
        if (previous !== BlockKind.Meta && previous !== BlockKind.Entries) this.fail('ENTRIES block out of order');
        this.readEntries(r);
        break;
      case BlockKind.Sessions:
        if (previous === 0 || previous === BlockKind.End || previous === BlockKind.Auth || previous === BlockKind.Leases) this.fail('SESSIONS block out of order');
        this.readSessions(r);
        break;
      case BlockKind.Auth:
        if (this.formatVersion === SNAPSHOT_FORMAT_VERSION_NO_AUTH) this.fail('AUTH block in a format-1 snapshot');
        if (previous === 0 || previous === BlockKind.Auth || previous === BlockKind.Leases) this.fail('AUTH block out of order or repeated');
        this.auth = AuthState.read(r, this.fail, this.keyBytesMax);
        break;
      case BlockKind.Leases:
        if (!this.withLeases) this.fail(`LEASES block in a format-${this.formatVersion} snapshot`);
        if (previous === 0 || previous === BlockKind.End) this.fail('LEASES block out of order');
        this.lastLeaseId = readLeaseRecords(r, this.leases, this.lastLeaseId, this.fail);
        if (this.leases.size > this.meta!.leaseCount) this.fail('more leases than META says');
        break;
      case BlockKind.End: {
        if (previous === 0) this.fail('END block before META');
        if (this.formatVersion === SNAPSHOT_FORMAT_VERSION_AUTH && this.auth === null) this.fail('format-2 snapshot without an AUTH block');
        const meta = this.meta!;
        if (this.leases.size !== meta.leaseCount) this.fail(`${this.leases.size} leases, META says ${meta.leaseCount}`);
        this.attachLeaseKeys();
        if (this.entriesSeen !== meta.entryCount) this.fail(`${this.entriesSeen} entries, META says ${meta.entryCount}`);
        if (this.sessions.size !== meta.sessionCount) this.fail(`${this.sessions.size} sessions, META says ${meta.sessionCount}`);
        this.stage = Stage.Done;
        break;
      }
      default:
        this.fail(`unknown block kind ${kind}`);
    }
    r.expectEnd();
    this.lastBlockKind = kind;
  }

  private readMeta(r: ByteReader): void {
    const appliedIndex = r.varint();
    const clockMs = r.varint();
    const entryCount = r.varint();
    const sessionCount = r.varint();
    // Formats 1 and 2 had index-based revisions: the appliedIndex is at least every one of them.
    const current = this.withLeases;
    const revision = current ? r.varint() : appliedIndex;
    if (revision > appliedIndex) this.fail(`revision ${revision} above appliedIndex ${appliedIndex}`);
    const leaseCount = current ? r.varint() : 0;
    const compactRevision = this.formatVersion === SNAPSHOT_FORMAT_VERSION_COMPACTED ? r.varint() : 0;
    if (compactRevision > revision) this.fail(`compactRevision ${compactRevision} above revision ${revision}`);
    this.meta = { appliedIndex, clockMs, entryCount, sessionCount, revision, leaseCount, compactRevision };
  }

  /** Files every key under its lease and its own TTL (leases come after the entries in the stream). */
  private attachLeaseKeys(): void {
    if (!this.withLeases) return;
    for (const entry of this.tree.values()) {
      if (entry.lease !== 0 && !this.leases.attach(entry)) this.fail(`a key is attached to lease ${entry.lease}, which the snapshot lacks`);
      if (entry.expiresAtMs !== 0) this.leases.addKeyTtl(entry);
    }
  }

  private readEntries(r: ByteReader): void {
    const revision = this.meta!.revision;
    const withLeases = this.withLeases;
    const count = r.u32();
    if (count === 0) this.fail('empty ENTRIES block');
    for (let i = 0; i < count; i++) {
      const keyView = r.raw(r.varint());
      const valueView = r.raw(r.varint());
      // The key becomes a string and the value a copy: entries must not pin the block buffer.
      const key = binaryStringFromBytes(keyView);
      const value = copyBytes(valueView);
      const version = r.varint();
      const createRevision = r.varint();
      const modRevision = r.varint();
      const lease = withLeases ? r.varint() : 0;
      const expiresAtMs = withLeases ? r.varint() : 0;
      if (lease !== 0 && expiresAtMs !== 0) this.fail('a key with both a lease and a TTL');
      if (key.length === 0) this.fail('empty key');
      // Binary strings compare in unsigned byte order (see bytes.ts).
      if (this.lastKey !== null && this.lastKey >= key) this.fail('keys out of order');
      if (version < 1 || createRevision < 1 || createRevision > modRevision || modRevision > revision) {
        this.fail('entry version or revisions out of range');
      }
      this.tree.set(key, new StoredEntry(key, value, version, createRevision, modRevision, lease, expiresAtMs));
      this.lastKey = key;
    }
    this.entriesSeen += count;
    if (this.entriesSeen > this.meta!.entryCount) this.fail('more entries than META says');
  }

  private readSessions(r: ByteReader): void {
    const appliedIndex = this.meta!.appliedIndex;
    const count = r.u32();
    if (count === 0) this.fail('empty SESSIONS block');
    for (let i = 0; i < count; i++) {
      const id = r.varint();
      const ttlMs = r.varint();
      const deadlineMs = r.varint();
      const ackedSeq = r.varint();
      const owner = this.withLeases ? r.string() : ANONYMOUS_OWNER;
      if (owner.length > AUTH_NAME_BYTES_MAX) this.fail('session owner name too long');
      const resultCount = r.varint();
      if (id <= this.lastSessionId || id > appliedIndex) this.fail('session ids out of order or range');
      if (ttlMs < 1) this.fail('session TTL out of range');
      const results = new Map<number, SavedResult>();
      for (let j = 0; j < resultCount; j++) {
        const seq = r.varint();
        if (seq <= ackedSeq || results.has(seq)) this.fail('saved result seq out of range or repeated');
        // Validated, and kept in the compact form every member makes (so all count the same bytes).
        results.set(seq, compactResult(readResult(r, this.fail)));
      }
      this.sessions.add(id, ttlMs, deadlineMs, owner, ackedSeq, results);
      this.lastSessionId = id;
    }
    if (this.sessions.size > this.meta!.sessionCount) this.fail('more sessions than META says');
  }
}
