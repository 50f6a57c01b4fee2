/**
 * The sending half of a Connection: encodes frames into per-turn output
 * chunks and hands them to the socket.
 *
 * Frames queued during one event-loop turn leave together in one syscall
 * (one write of their chunk, or a corked writev when a turn filled several).
 * When the socket pushes back (`write()` returned false) further frames wait
 * for 'drain'; everything not yet handed to the kernel counts against
 * `sendQueueBytesMax`, and a frame that would exceed it is refused with
 * SendQueueFullError (nothing is queued).
 *
 * `blocked` is the one signal the rest of the connection reads: true while
 * the writer waits for 'drain' or more than `blockedBytesMax` bytes wait for
 * the kernel. An RPC server stops reading requests while it is true, so a
 * caller that does not read its answers cannot make us buffer without end.
 */
import { assert } from '../common/errors.js';
import { headerBytesOf, lengthPrefixBytes, noBody, writeFrameHeader, type Body, type FrameKind } from './codec.js';
import { ConnectionClosedError, FrameTooLargeError, SendQueueFullError } from './errors.js';
import { MsgpackEncoder } from './msgpack.js';
import { allocateOutChunk, trimOutChunk } from './out-slab.js';
import type { ByteSocket } from './transport.js';

/**
 * `blocked` turns true above this many queued bytes. Big enough that a
 * pipeline of 64 KiB answers is not cut to one answer per turn; small enough
 * that a caller who does not read its answers costs about this much (plus the
 * answers of handlers already running).
 */
export const blockedBytesMax = 256 * 1024;

/**
 * Frames are encoded straight into per-turn output chunks; a chunk is sized
 * from the previous turn's output (at least this, at most outChunkBytesMax,
 * or one frame if bigger), so a steady flow fills one chunk per turn.
 */
const outChunkBytesMin = 512;
const outChunkBytesMax = 64 * 1024;

/** Told when a frame's bytes were handed to the kernel (or could not be). */
export interface SendWaiter {
  resolve(): void;
  reject(error: Error): void;
}

export interface FrameWriterLimits {
  readonly frameBytesMax: number;
  readonly sendQueueBytesMax: number;
}

export class FrameWriter {
  private readonly encoder = new MsgpackEncoder();
  // Full chunks, then the chunk being filled; all of it goes out in the next flush.
  private frames: Buffer[] | undefined = undefined;
  private chunk: Buffer | undefined = undefined;
  private chunkUsed = 0;
  private chunkedBytes = 0;
  /** Bytes handed to the socket so far (frames taken for writing): peer traffic metrics. */
  private takenBytes = 0;
  private lastFlushBytes = 0;
  /**
   * An upper bound of `socket.writableLength`, read after each of our writes:
   * only our writes add to it, so it can only have shrunk since. Checking the
   * bounds against it spares a getter call per frame; the exact figure is
   * read only near a bound.
   */
  private socketQueuedBytesBound = 0;
  /** Queued bytes above which the exact figure is read: the smaller bound. */
  private readonly exactAboveBytes: number;
  private waiters: SendWaiter[] | undefined = undefined;
  private flushScheduled = false;
  private waitingForDrain = false;
  private drainListeners: (() => void)[] | undefined = undefined;
  private closed = false;
  private blockedValue = false;

  constructor(
    private readonly socket: ByteSocket,
    private readonly remoteAddress: string,
    private readonly limits: FrameWriterLimits,
    /** Called when `blocked` changes. */
    private readonly onBlocked: (blocked: boolean) => void,
  ) {
    this.exactAboveBytes = Math.min(limits.sendQueueBytesMax, blockedBytesMax);
    socket.on('drain', () => this.onDrain());
  }

  /** True while the writer waits for 'drain' or holds more than blockedBytesMax (see the file comment). */
  get blocked(): boolean {
    return this.blockedValue;
  }

  /** Bytes accepted but not yet handed to the kernel. */
  get queuedBytes(): number {
    return this.chunkedBytes + this.socket.writableLength;
  }

  /**
   * Queue one frame of `kind` with `value` as its body (`callId`, `id` as the
   * kind's header needs); `waiter` hears when it was handed to the kernel.
   * Throws, queueing nothing, for a frame over frameBytesMax, a full send
   * queue, or a body that is not plain data (TypeError).
   */
  enqueue(kind: FrameKind, callId: number, id: number, value: Body, waiter?: SendWaiter): void {
    const encoder = this.encoder;
    const bodyBytes = headerBytesOf(kind) + (value === noBody ? 0 : encoder.measure(value));
    const limits = this.limits;
    if (bodyBytes > limits.frameBytesMax) {
      encoder.discard();
      throw new FrameTooLargeError(bodyBytes, limits.frameBytesMax);
    }
    const frameBytes = lengthPrefixBytes + bodyBytes;
    let queued = this.chunkedBytes + this.socketQueuedBytesBound;
    if (queued + frameBytes > this.exactAboveBytes) {
      this.socketQueuedBytesBound = this.socket.writableLength;
      queued = this.chunkedBytes + this.socketQueuedBytesBound;
      if (queued + frameBytes > limits.sendQueueBytesMax) {
        encoder.discard();
        throw new SendQueueFullError(queued, frameBytes, limits.sendQueueBytesMax);
      }
    }
    // Room in the current chunk, or a new chunk.
    let chunk = this.chunk;
    if (chunk === undefined || this.chunkUsed + frameBytes > chunk.length) {
      if (chunk !== undefined) (this.frames ??= []).push(trimOutChunk(chunk, this.chunkUsed));
      const sized = Math.min(outChunkBytesMax, Math.max(outChunkBytesMin, this.lastFlushBytes, this.chunkedBytes));
      chunk = this.chunk = allocateOutChunk(Math.max(frameBytes, sized));
      this.chunkUsed = 0;
    }
    const bodyAt = writeFrameHeader(chunk, this.chunkUsed, frameBytes, kind, callId, id);
    if (value !== noBody) encoder.write(chunk, bodyAt);
    this.chunkUsed += frameBytes;
    this.chunkedBytes += frameBytes;
    if (waiter !== undefined) {
      if (this.waiters === undefined) this.waiters = [waiter];
      else this.waiters.push(waiter);
    }
    if (queued + frameBytes > blockedBytesMax) this.setBlocked(true);
    if (!this.flushScheduled && !this.waitingForDrain) {
      this.flushScheduled = true;
      // After the current turn's synchronous code and promise reactions, so that
      // everything sent in this turn leaves in one write.
      process.nextTick(flushOnNextTick, this);
    }
  }

  /** Bytes handed to the socket since the connection opened. */
  get sentBytes(): number {
    return this.takenBytes;
  }

  /** Take everything queued (full chunks + the used part of the current one). */
  private takeQueued(): Buffer[] | undefined {
    const chunk = this.chunk;
    if (chunk === undefined) return undefined;
    const frames = this.frames ?? [];
    frames.push(trimOutChunk(chunk, this.chunkUsed));
    this.frames = undefined;
    this.chunk = undefined;
    this.chunkUsed = 0;
    this.lastFlushBytes = this.chunkedBytes;
    this.takenBytes += this.chunkedBytes;
    this.chunkedBytes = 0;
    return frames;
  }

  /** Write out what was queued this turn (unless waiting for 'drain'). */
  flush(): void {
    this.flushScheduled = false;
    if (this.chunk === undefined || this.waitingForDrain || this.closed) return;
    const waiters = this.waiters;
    this.waiters = undefined;
    const frames = this.takeQueued()!;
    const callback = waiters === undefined ? undefined : (error?: Error | null) => settleWaiters(waiters, error, this.remoteAddress);
    const socket = this.socket;
    let accepted: boolean;
    if (frames.length === 1) {
      accepted = socket.write(frames[0]!, callback);
    } else {
      socket.cork(); // One writev for all the chunks.
      const last = frames.length - 1;
      for (let i = 0; i < last; i++) socket.write(frames[i]!);
      accepted = socket.write(frames[last]!, callback);
      socket.uncork();
    }
    this.socketQueuedBytesBound = socket.writableLength;
    if (!accepted) {
      this.waitingForDrain = true;
      this.setBlocked(true);
    } else if (this.socketQueuedBytesBound <= blockedBytesMax) {
      this.setBlocked(false);
    }
  }

  private onDrain(): void {
    this.waitingForDrain = false;
    if (this.chunk !== undefined) this.flush();
    if (this.waitingForDrain) return;
    this.setBlocked(false);
    const listeners = this.drainListeners;
    if (listeners !== undefined) {
      this.drainListeners = undefined;
      for (const listener of listeners) listener();
    }
  }

  private setBlocked(blocked: boolean): void {
    if (this.blockedValue === blocked) return;
    this.blockedValue = blocked;
    this.onBlocked(blocked);
  }

  /** Resolves when nothing waits to be handed to the kernel (at once if nothing does, or once closed). */
  drained(): Promise<void> {
    if (this.queuedBytes === 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => (this.drainListeners ??= []).push(resolve));
  }

  /**
   * Graceful close: hand everything queued to the socket, even what waits for
   * 'drain' (the socket buffers it until the peer reads), then end our side.
   * What was queued last (say, an error answer telling the peer what it did
   * wrong) thus reaches the peer before our end of the stream.
   */
  flushForClose(): void {
    const waiters = this.waiters;
    this.waiters = undefined;
    const frames = this.takeQueued();
    if (frames !== undefined) {
      const last = frames.length - 1;
      for (let i = 0; i < last; i++) this.socket.write(frames[i]!);
      this.socket.write(frames[last]!, waiters === undefined ? undefined : (error?: Error | null) => settleWaiters(waiters, error, this.remoteAddress));
    }
    this.socket.end();
  }

  /** The connection closed: drop what is queued, fail its waiters with `closedError()`, release drained() waiters. */
  close(closedError: () => Error): void {
    assert(!this.closed, 'FrameWriter closed twice');
    this.closed = true;
    const waiters = this.waiters;
    this.waiters = undefined;
    this.takeQueued();
    if (waiters !== undefined) for (const waiter of waiters) waiter.reject(closedError());
    const listeners = this.drainListeners;
    this.drainListeners = undefined;
    if (listeners !== undefined) for (const listener of listeners) listener();
  }
}

function flushOnNextTick(writer: FrameWriter): void {
  writer.flush();
}

function settleWaiters(waiters: SendWaiter[], error: Error | null | undefined, remoteAddress: string): void {
  if (error) {
    const closed = new ConnectionClosedError(`write to ${remoteAddress} failed`, { cause: error });
    for (const waiter of waiters) waiter.reject(closed);
  } else {
    for (const waiter of waiters) waiter.resolve();
  }
}
