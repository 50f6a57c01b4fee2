/**
 * Incremental decoder for length-prefixed frames (u32be length, then body).
 *
 * Any split of the byte stream yields the same frames: a frame spread over
 * many reads, or many frames in one read. A frame that arrives whole inside
 * one chunk is passed on as (chunk, start, end): no copy. A frame spread over several chunks
 * is collected as a list of views and concatenated exactly once when its last
 * byte arrives, so a large frame in many small chunks costs O(size), not
 * O(size^2) as re-concatenating the buffer on every read would.
 */
import { FrameTooLargeError } from './errors.js';
import { lengthPrefixBytes } from './codec.js';

export const frameBytesMaxDefault = 16 * 1024 * 1024;

const emptyBody = Buffer.alloc(0);

export class FrameDecoder {
  /** Length of the frame being collected, or -1 while its prefix is incomplete. */
  private expectedBytes = -1;
  /** Prefix bytes seen so far, when the prefix itself is split across chunks. */
  private prefix: Buffer | undefined;
  private prefixBytes = 0;
  /** Views of the current frame's body parts, when it spans chunks. */
  private parts: Buffer[] | undefined;
  private partsBytes = 0;
  /** The unread rest of a chunk, held while the consumer asked to stop. */
  private held: Buffer | undefined;

  /**
   * `onFrame` may return false to stop: the rest of the chunk is held (not
   * decoded) until `resume()`, so a paused consumer holds at most one chunk.
   */
  constructor(
    private readonly frameBytesMax: number,
    private readonly onFrame: (bytes: Buffer, start: number, end: number) => boolean | void,
  ) {}

  /** Bytes buffered: a frame that is not complete yet, plus any held chunk rest. */
  get bufferedBytes(): number {
    return this.prefixBytes + this.partsBytes + (this.held?.length ?? 0);
  }

  /** Bytes of the frame being collected (its prefix and body so far), not counting a held chunk rest. */
  get partialFrameBytes(): number {
    return this.prefixBytes + this.partsBytes;
  }

  /** True while the rest of a chunk waits for `resume()`. */
  get holding(): boolean {
    return this.held !== undefined;
  }

  /** Forgets every buffered byte (the connection closed): a closed connection pins no chunks. */
  clear(): void {
    this.expectedBytes = -1;
    this.prefix = undefined;
    this.prefixBytes = 0;
    this.parts = undefined;
    this.partsBytes = 0;
    this.held = undefined;
  }

  /** Decode what was held when `onFrame` returned false (it may stop again). */
  resume(): void {
    const held = this.held;
    this.held = undefined;
    if (held !== undefined) this.push(held);
  }

  /**
   * Feed the next chunk. Calls `onFrame` for each completed frame, in order.
   * Throws FrameTooLargeError on a prefix over `frameBytesMax` (the stream
   * cannot be resynchronised after that: close the connection).
   */
  push(chunk: Buffer): void {
    if (this.held !== undefined) {
      // Bytes must stay in order: append to what is held.
      this.held = Buffer.concat([this.held, chunk]);
      return;
    }
    let offset = 0;
    const end = chunk.length;
    while (offset < end) {
      if (this.expectedBytes < 0) {
        if (this.prefixBytes === 0 && end - offset >= lengthPrefixBytes) {
          this.expectedBytes = chunk[offset]! * 0x1000000 + ((chunk[offset + 1]! << 16) | (chunk[offset + 2]! << 8) | chunk[offset + 3]!);
          offset += lengthPrefixBytes;
        } else {
          const prefix = (this.prefix ??= Buffer.allocUnsafe(lengthPrefixBytes));
          while (this.prefixBytes < lengthPrefixBytes && offset < end) prefix[this.prefixBytes++] = chunk[offset++]!;
          if (this.prefixBytes < lengthPrefixBytes) return;
          this.expectedBytes = prefix.readUInt32BE(0);
          this.prefixBytes = 0;
          this.prefix = undefined;
        }
        if (this.expectedBytes > this.frameBytesMax) {
          throw new FrameTooLargeError(this.expectedBytes, this.frameBytesMax);
        }
        if (this.expectedBytes === 0) {
          // An empty frame may end exactly at the chunk's end: emit it now.
          this.expectedBytes = -1;
          if (this.onFrame(emptyBody, 0, 0) === false) return this.hold(chunk, offset);
          continue;
        }
      }
      const missing = this.expectedBytes - this.partsBytes;
      const available = end - offset;
      if (this.parts === undefined) {
        if (available >= missing) {
          // The whole body is in this chunk: hand out its place in the chunk (no copy, no view object).
          const start = offset;
          offset += missing;
          this.expectedBytes = -1;
          if (this.onFrame(chunk, start, offset) === false) return this.hold(chunk, offset);
          continue;
        }
        this.parts = [chunk.subarray(offset)];
        this.partsBytes = available;
        return;
      }
      if (available < missing) {
        this.parts.push(chunk.subarray(offset));
        this.partsBytes += available;
        return;
      }
      this.parts.push(chunk.subarray(offset, offset + missing));
      offset += missing;
      const body = Buffer.concat(this.parts, this.expectedBytes);
      this.parts = undefined;
      this.partsBytes = 0;
      this.expectedBytes = -1;
      if (this.onFrame(body, 0, body.length) === false) return this.hold(chunk, offset);
    }
  }

  private hold(chunk: Buffer, offset: number): void {
    if (offset < chunk.length) this.held = chunk.subarray(offset);
  }
}
