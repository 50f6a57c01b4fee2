/**
 * One accepted connection's inbound bounds (listener side): the handshake
 * timeout, the minimum receive rate of a frame in progress, and its share of
 * the process's budget for bytes held in partial frames (inbound-limits.ts).
 * Connection owns one and tells it what its reader does; the listener's sweep
 * asks it whether a bound was broken. Kept apart from Connection so the
 * connection reads as a connection, and every rule of these bounds is here.
 */
import type { Clock } from '../common/clock.js';
import { errorFields, type Logger } from '../common/logger.js';
import { FrameTooSlowError, HandshakeTimeoutError, InboundBudgetExceededError } from './errors.js';
import type { BurstLog, InboundBudget } from './inbound-limits.js';

/** Rate-limited log lines for connections closed by a bound (see inbound-limits.ts BurstLog). */
export interface BoundsLogs {
  readonly idle: BurstLog;
  readonly handshake: BurstLog;
  readonly slow: BurstLog;
  readonly budget: BurstLog;
}

/** The inbound bounds a listener may set on its connections (part of ConnectionOptions). */
export interface InboundBoundsOptions {
  /**
   * Close with HandshakeTimeoutError when no complete frame arrived (and
   * `markEstablished()` was not called) this long after the connection was
   * accepted (default: never). Enforced by the listener's sweep.
   */
  readonly handshakeTimeoutMs?: number;
  /**
   * A frame in progress must arrive at least this fast, on average since its
   * first byte, once `receiveRateGraceMs` has passed; slower, it is dropped
   * with its connection (FrameTooSlowError). Default: off. Listener sweep.
   */
  readonly receiveRateMinBytesPerSec?: number;
  /** How long a frame may take before its rate is judged (default 2000 ms). */
  readonly receiveRateGraceMs?: number;
  /** The budget partial inbound frames count against (listeners default to the process's one). */
  readonly inboundBudget?: InboundBudget;
}

/** The resolved options the guard reads (part of ResolvedConnectionOptions). */
export interface InboundGuardOptions {
  /** 0: no handshake timeout. */
  readonly handshakeTimeoutMs: number;
  /** 0: no minimum rate. */
  readonly receiveRateMinBytesPerSec: number;
  readonly receiveRateGraceMs: number;
  readonly inboundBudget: InboundBudget | undefined;
  /** Set by listen(): one log line per burst of closures, not one per connection. */
  readonly boundsLogs: BoundsLogs | undefined;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** What the guard sees of its connection's reader. */
export interface GuardedReader {
  readonly remoteAddress: string;
  /** Bytes buffered in the decoder (0 once closed). */
  bufferedBytes(): number;
  /** Bytes of the frame now in progress. */
  partialFrameBytes(): number;
  /** True while the connection reads (not paused, no decoded frames held back). */
  reading(): boolean;
  closed(): boolean;
  destroy(error: Error): void;
}

export class InboundGuard {
  private readonly openedAtMs: number;
  private established = false;
  private framesSeen = 0;
  private framesSeenAtAccount = 0;
  /** When the frame now in progress began (clock.monotonicMs), or -1. */
  private partialSinceMs = -1;
  /** Bytes this connection holds against options.inboundBudget. */
  private budgetHeldBytes = 0;

  constructor(
    private readonly options: InboundGuardOptions,
    private readonly reader: GuardedReader,
  ) {
    const timed = options.handshakeTimeoutMs > 0 || options.receiveRateMinBytesPerSec > 0;
    this.openedAtMs = timed ? options.clock.monotonicMs() : 0;
  }

  /** A complete frame arrived: the handshake is over, and the next frame's rate is judged from its own start. */
  onFrame(): void {
    this.framesSeen++;
    this.established = true;
  }

  /** The connection completed its handshake another way (e.g. authenticated). */
  markEstablished(): void {
    this.established = true;
  }

  /** Reading resumed after a pause: time we spent not reading is not the peer's, so judge its rate from now. */
  onReadResumed(): void {
    if (this.partialSinceMs >= 0) this.partialSinceMs = this.options.clock.monotonicMs();
  }

  /** After the decoder took bytes: counts partial-frame bytes against the budget; drops the connection when it is spent. */
  afterRead(): void {
    const budget = this.options.inboundBudget;
    if (budget === undefined) return;
    const buffered = this.reader.closed() ? 0 : this.reader.bufferedBytes();
    const delta = buffered - this.budgetHeldBytes;
    if (delta !== 0) {
      if (!budget.adjust(delta)) {
        const error = new InboundBudgetExceededError(budget.partialFrameBytesMax);
        this.options.boundsLogs?.budget.event({ remoteAddress: this.reader.remoteAddress, err: errorFields(error), partialFrameBytes: buffered });
        this.reader.destroy(error);
        return;
      }
      this.budgetHeldBytes = buffered;
    }
    if (this.options.receiveRateMinBytesPerSec === 0) return;
    if (this.reader.partialFrameBytes() === 0) this.partialSinceMs = -1;
    else if (this.partialSinceMs < 0 || this.framesSeen !== this.framesSeenAtAccount) this.partialSinceMs = this.options.clock.monotonicMs();
    this.framesSeenAtAccount = this.framesSeen;
  }

  /** The connection closed: give its bytes back to the budget. */
  release(): void {
    if (this.budgetHeldBytes === 0) return;
    this.options.inboundBudget?.adjust(-this.budgetHeldBytes);
    this.budgetHeldBytes = 0;
  }

  /**
   * The listener's sweep: closes the connection if it broke the handshake
   * timeout or the minimum receive rate, logging once per burst. Returns true
   * if it closed it.
   */
  check(nowMs: number): boolean {
    if (this.reader.closed()) return false;
    const o = this.options;
    let error: Error | undefined;
    let log: BurstLog | undefined;
    if (!this.established && o.handshakeTimeoutMs > 0 && nowMs - this.openedAtMs >= o.handshakeTimeoutMs) {
      error = new HandshakeTimeoutError(o.handshakeTimeoutMs);
      log = o.boundsLogs?.handshake;
    } else if (o.receiveRateMinBytesPerSec > 0 && this.partialSinceMs >= 0 && this.reader.reading()) {
      const elapsedMs = nowMs - this.partialSinceMs;
      const bytes = this.reader.partialFrameBytes();
      if (elapsedMs >= o.receiveRateGraceMs && bytes * 1000 < o.receiveRateMinBytesPerSec * elapsedMs) {
        error = new FrameTooSlowError(bytes, elapsedMs, o.receiveRateMinBytesPerSec);
        log = o.boundsLogs?.slow;
      }
    }
    if (error === undefined) return false;
    const fields = { remoteAddress: this.reader.remoteAddress, err: errorFields(error), partialFrameBytes: this.reader.bufferedBytes() };
    if (log !== undefined) log.event(fields);
    else o.logger.warn(fields, 'closing connection: a bound was broken');
    this.reader.destroy(error);
    return true;
  }
}
