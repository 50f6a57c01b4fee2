/**
 * The member's side of `snapshot.save` (backups): open snapshot streams, each
 * a frozen view of the key-value state (an O(1) copy-on-write clone of the
 * key tree, kv/snapshot-writer.ts) read page by page as the client asks.
 *
 * Memory stays bounded: a page is encoded only when asked for (the client asks
 * for the next one after writing the last, so a slow disk on the client side
 * slows the stream instead of filling a buffer), at most `streamsMax` streams
 * are open, and a stream nobody asked anything of for `idleMs` is dropped.
 * The last page is kept until the next is asked for, so that a client whose
 * answer was lost (a timeout, a reconnect) can ask for the same offset again.
 * A stream belongs to this member, not to a connection (a client may reconnect
 * mid-stream); its id is drawn at random, so that it cannot be guessed by
 * another client (with auth on, only admins may call at all). The clone itself shares the key
 * tree's nodes until writes replace them, like a read transaction in etcd's
 * bbolt: a long save under heavy writes holds the replaced nodes until it ends.
 */
import type { Clock } from '../common/clock.js';
import type { RandomSource } from '../common/rng.js';
import { protocolLimits, type SnapshotSaveRequest, type SnapshotSaveResponse } from '../protocol/index.js';
import { invalidRequest, overloaded } from './errors.js';

/** A frozen state to stream: its bytes (iterated once), their exact length and the key count. */
export interface BackupSnapshot {
  /** The raft index and term of the last entry the state includes. */
  readonly index: number;
  readonly term: number;
  readonly keys: number;
  /** The exact length of `contents`, in slices: yields between slices of keys, returns the length. */
  measure(sliceEntries: number): Iterator<void, number, void>;
  readonly contents: Iterable<Uint8Array>;
}

export interface BackupSource {
  /** The state as of now (synchronous: the index, term and contents agree). */
  take(): BackupSnapshot;
  /** This member's cluster ID, or null while it has not learned it. */
  clusterId(): string | null;
}

export interface SnapshotStreamsOptions {
  /** Streams open at once on this member (default 4). */
  readonly streamsMax?: number;
  /** A stream with no call for this long is dropped (default 60 s). */
  readonly idleMs?: number;
}

/** The page of a stream, without the response header (the service adds it). */
export type SnapshotPage = Omit<SnapshotSaveResponse, 'header'>;

interface OpenStream {
  readonly id: number;
  readonly snapshot: BackupSnapshot;
  readonly totalBytes: number;
  readonly clusterId: string;
  readonly pieces: Iterator<Uint8Array>;
  /** A piece taken from the iterator that did not fit in the last page. */
  carry: Uint8Array | null;
  offset: number;
  /** The page answered last (sent again if asked for its offset again). */
  last: SnapshotPage | null;
  lastUsedMs: number;
}

const chunkBytesMin = 4 * 1024;
/** Keys sized per event-loop turn when a stream opens (a few milliseconds each). */
const sizingSliceEntries = 20_000;

export class SnapshotStreams {
  private readonly streams = new Map<number, OpenStream>();
  /** Streams being sized (they count against streamsMax). */
  private opening = 0;
  private readonly streamsMax: number;
  private readonly idleMs: number;

  constructor(
    private readonly source: BackupSource,
    private readonly clock: Clock,
    private readonly random: RandomSource,
    options: SnapshotStreamsOptions = {},
  ) {
    this.streamsMax = options.streamsMax ?? 4;
    this.idleMs = options.idleMs ?? 60_000;
  }

  /** Streams open now (for tests and metrics). */
  get openCount(): number {
    return this.streams.size;
  }

  /**
   * Opens a stream of the state as of now and returns its first page. Call
   * after a read barrier: the state is taken synchronously, at once; its size
   * is then measured a slice of keys per event-loop turn, so that a large store
   * does not hold up the member's heartbeats.
   */
  async open(chunkBytesMax: number): Promise<SnapshotPage> {
    this.sweep();
    if (this.streams.size + this.opening >= this.streamsMax) throw overloaded('open snapshot streams', this.streamsMax);
    const snapshot = this.source.take();
    const clusterId = this.source.clusterId() ?? '';
    this.opening++;
    let totalBytes: number;
    try {
      const sizing = snapshot.measure(sizingSliceEntries);
      for (;;) {
        const step = sizing.next();
        if (step.done === true) {
          totalBytes = step.value;
          break;
        }
        await new Promise<void>((resolve) => this.clock.schedule(resolve));
      }
    } finally {
      this.opening--;
    }
    const stream: OpenStream = {
      id: this.newId(),
      snapshot,
      totalBytes,
      clusterId,
      pieces: snapshot.contents[Symbol.iterator](),
      carry: null,
      offset: 0,
      last: null,
      lastUsedMs: this.clock.monotonicMs(),
    };
    this.streams.set(stream.id, stream);
    return this.page(stream, chunkBytesMax);
  }

  /** The page at `request.offset` of an open stream. */
  next(request: SnapshotSaveRequest): SnapshotPage {
    const stream = this.streams.get(request.streamId);
    if (stream === undefined) {
      throw invalidRequest(
        `no snapshot stream ${request.streamId} on this member (it ended, was idle for more than ${this.idleMs} ms, or was opened on another member: a leader change ends a save)`,
        'unknown snapshot stream',
      );
    }
    if (stream.last !== null && request.offset === stream.last.offset) {
      stream.lastUsedMs = this.clock.monotonicMs();
      return stream.last; // The answer to that request was lost: the same page again.
    }
    if (request.offset !== stream.offset) {
      throw invalidRequest(`snapshot stream ${stream.id} is at byte ${stream.offset}, not ${request.offset} (a stream cannot rewind)`, 'wrong snapshot offset');
    }
    stream.lastUsedMs = this.clock.monotonicMs();
    return this.page(stream, request.chunkBytesMax);
  }

  private page(stream: OpenStream, chunkBytesMax: number): SnapshotPage {
    const want =
      chunkBytesMax === 0 ? protocolLimits.snapshotChunkBytesDefault : Math.min(Math.max(chunkBytesMax, chunkBytesMin), protocolLimits.snapshotChunkBytesMax);
    const parts: Uint8Array[] = [];
    let bytes = 0;
    let done = false;
    while (bytes < want) {
      let piece = stream.carry;
      stream.carry = null;
      if (piece === null) {
        const step = stream.pieces.next();
        if (step.done === true) {
          done = true;
          break;
        }
        piece = step.value;
      }
      if (bytes + piece.length > want) {
        stream.carry = piece.subarray(want - bytes);
        piece = piece.subarray(0, want - bytes);
      }
      parts.push(piece);
      bytes += piece.length;
    }
    if (!done && stream.carry === null && stream.offset + bytes === stream.totalBytes) {
      // The page ends exactly at the end: say so now rather than with an empty page.
      const step = stream.pieces.next();
      if (step.done === true) done = true;
      else stream.carry = step.value; // More than announced: the next page says so.
    }
    const chunk = parts.length === 1 ? parts[0]! : Buffer.concat(parts, bytes);
    const offset = stream.offset;
    stream.offset += bytes;
    if (done) {
      this.streams.delete(stream.id);
      if (stream.offset !== stream.totalBytes) {
        throw invalidRequest(
          `snapshot stream ${stream.id} ended at byte ${stream.offset}, not at its announced length ${stream.totalBytes}`,
          'snapshot length mismatch',
        );
      }
    }
    const s = stream.snapshot;
    return (stream.last = { streamId: stream.id, index: s.index, term: s.term, clusterId: stream.clusterId, keys: s.keys, totalBytes: stream.totalBytes, offset, chunk, done });
  }

  /** Drops the streams nobody asked anything of for idleMs (a client that died mid-save). */
  private sweep(): void {
    const now = this.clock.monotonicMs();
    for (const [id, stream] of this.streams) if (now - stream.lastUsedMs > this.idleMs) this.streams.delete(id);
  }

  /** A random id in [1, 2^48): not guessable, and exact as a msgpack uint and a JS number. */
  private newId(): number {
    for (;;) {
      const id = this.random.nextInt(0x1000000) * 0x1000000 + this.random.nextInt(0x1000000);
      if (id !== 0 && !this.streams.has(id)) return id;
    }
  }
}
