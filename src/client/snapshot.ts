/**
 * `KvClient.openSnapshot()`: a consistent snapshot of the whole store, read
 * page by page from the leader (`snapshot.save`, src/protocol/methods.ts), for
 * backups. The stream is opened at a linearizable point: it holds every write
 * acknowledged before the call.
 *
 * The pages are an async iterable. While the consumer handles one page the
 * next is already asked for, and no further one until the consumer pulls: a
 * consumer that awaits its disk write before pulling again holds at most two
 * pages in memory, and so does the member (the page it sent last, kept for a
 * resend, and the one it is encoding). A page whose answer
 * is lost is asked for again at the same offset (the member keeps the last
 * page for that); a leader change ends the stream with an error (the new
 * leader has no such stream): run the backup again.
 */
import { Method, protocolLimits, type MethodTypes } from '../protocol/index.js';
import { InvalidRequestError } from './errors.js';
import type { CallOptions } from './options.js';

type SaveRequest = MethodTypes['snapshot.save']['request'];
type SaveResponse = MethodTypes['snapshot.save']['response'];
/** One `snapshot.save` call through the client's retry loop (leader following, retries within the deadline). */
export type SnapshotInvoker = (request: SaveRequest, options: CallOptions) => Promise<SaveResponse>;

export interface SnapshotOptions extends CallOptions {
  /** Largest page to ask for (default 1 MiB; the member clamps it to [4 KiB, 8 MiB]). `timeoutMs` bounds each page. */
  readonly chunkBytesMax?: number;
}

/** What the member says about the snapshot it streams. */
export interface SnapshotInfo {
  /** The member that serves it (the leader when the stream opened). */
  readonly memberName: string;
  /** Raft index and term of the last entry included. */
  readonly index: number;
  readonly term: number;
  readonly clusterId: string;
  readonly keys: number;
  /** Exact length of the stream in bytes. */
  readonly totalBytes: number;
}

/** The snapshot's bytes, as pages; iterate once. */
export class SnapshotDownload implements AsyncIterable<Uint8Array> {
  private used = false;
  /** Bytes handed to the consumer so far. */
  receivedBytes = 0;

  constructor(
    readonly info: SnapshotInfo,
    private readonly first: SaveResponse,
    private readonly invoke: SnapshotInvoker,
    private readonly options: SnapshotOptions,
  ) {}

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    if (this.used) throw new InvalidRequestError('a snapshot download can be iterated once', 'snapshot already read');
    this.used = true;
    let page = this.first;
    for (;;) {
      this.check(page);
      this.receivedBytes += page.chunk.length;
      // Ask for the next page before handing this one over: the member encodes it while the
      // consumer writes this one. Two pages at most are in memory on either side.
      const next = page.done
        ? null
        : this.invoke(
            { streamId: page.streamId, offset: this.receivedBytes, chunkBytesMax: this.options.chunkBytesMax ?? protocolLimits.snapshotChunkBytesDefault },
            this.options,
          );
      next?.catch(() => {}); // Seen below; a consumer that stops early leaves it unawaited.
      yield page.chunk;
      if (next === null) break;
      page = await next;
    }
    if (this.receivedBytes !== this.info.totalBytes) {
      throw new InvalidRequestError(`the snapshot stream ended after ${this.receivedBytes} of ${this.info.totalBytes} bytes`, 'snapshot stream short');
    }
  }

  /** Every page must continue the same stream where the last one ended. */
  private check(page: SaveResponse): void {
    const info = this.info;
    if (page.index !== info.index || page.term !== info.term || page.totalBytes !== info.totalBytes || page.offset !== this.receivedBytes) {
      throw new InvalidRequestError(
        `snapshot page at offset ${page.offset} (index ${page.index}, ${page.totalBytes} bytes) does not continue the stream at ${this.receivedBytes} (index ${info.index})`,
        'snapshot stream inconsistent',
      );
    }
    if (page.offset + page.chunk.length > info.totalBytes) {
      throw new InvalidRequestError(`the snapshot stream runs past its announced ${info.totalBytes} bytes`, 'snapshot stream long');
    }
  }
}

/** Opens a stream on the leader (after its ReadIndex) and returns it with its first page in hand. */
export async function openSnapshot(invoke: SnapshotInvoker, options: SnapshotOptions = {}): Promise<SnapshotDownload> {
  const first = await invoke({ streamId: 0, offset: 0, chunkBytesMax: options.chunkBytesMax ?? protocolLimits.snapshotChunkBytesDefault }, options);
  const info: SnapshotInfo = {
    memberName: first.header.memberName,
    index: first.index,
    term: first.term,
    clusterId: first.clusterId,
    keys: first.keys,
    totalBytes: first.totalBytes,
  };
  return new SnapshotDownload(info, first, invoke, options);
}

export const snapshotMethod = Method.SnapshotSave;
