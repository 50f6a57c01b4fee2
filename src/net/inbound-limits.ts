/**
 * Bounds that no client can exhaust (issue 12 §3), shared by every
 * connection of a listener, and the budget shared by every listener of the
 * process:
 * - `InboundBudget`: bytes buffered for partial inbound frames, process-wide
 *   (a few hundred connections trickling 16 MiB frames must not hold GiBs);
 * - `defaultConnectionsMax()`: a per-listener connection cap that fits the
 *   process's file-descriptor limit, with room for the WAL and snapshots;
 * - `BurstLog`: one log line per burst of the same event, not one per
 *   connection (10,000 idle connections closing at once log once, with a count).
 * The sweep that enforces handshake timeouts and the minimum receive rate is
 * in endpoint.ts; the per-connection accounting in connection.ts.
 */
import { readFileSync } from 'node:fs';
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';

/** Default process-wide budget for bytes of partial inbound frames: 256 MiB. */
export const partialFrameBytesMaxDefault = 256 * 1024 * 1024;

/** Bytes held in partial frames across connections, against one bound. */
export class InboundBudget {
  private usedBytes = 0;
  constructor(readonly partialFrameBytesMax: number = partialFrameBytesMaxDefault) {}

  get used(): number {
    return this.usedBytes;
  }

  /** Moves the held amount by `deltaBytes`; false (nothing changed) when growing would exceed the bound. */
  adjust(deltaBytes: number): boolean {
    if (deltaBytes > 0 && this.usedBytes + deltaBytes > this.partialFrameBytesMax) return false;
    this.usedBytes = Math.max(0, this.usedBytes + deltaBytes);
    return true;
  }
}

/** The budget every listener of this process shares unless given its own. */
export const processInboundBudget = new InboundBudget();

/** File descriptors kept out of connection caps: the WAL segments, snapshots, the data directory, logs, stdio. */
export const fdReserveDefault = 256;
/** When the limit cannot be read (not Linux): a conservative soft limit. */
const fdSoftLimitFallback = 1024;

/** The soft RLIMIT_NOFILE, from /proc/self/limits on Linux, else a safe fallback (1024). */
export function fdSoftLimit(): number {
  try {
    const limits = readFileSync('/proc/self/limits', 'utf8');
    const match = /^Max open files\s+(\S+)/m.exec(limits);
    if (match === null) return fdSoftLimitFallback;
    if (match[1] === 'unlimited') return 1_048_576;
    const soft = Number(match[1]);
    return Number.isSafeInteger(soft) && soft > 0 ? soft : fdSoftLimitFallback;
  } catch {
    return fdSoftLimitFallback;
  }
}

/**
 * The default per-listener connection cap: half of (soft fd limit - reserve),
 * so that a member's two listeners (clients and peers) together leave the
 * reserve for its storage; at least 16.
 */
export function defaultConnectionsMax(softLimit = fdSoftLimit(), reserve = fdReserveDefault): number {
  return Math.max(16, Math.floor((softLimit - reserve) / 2));
}

/**
 * Logs the first event of a burst at once, then counts; the next event after
 * `quietMs` without any logs one line with how many were suppressed. Cost per
 * event: a clock read and a counter.
 */
export class BurstLog {
  private lastLoggedMs = -Infinity;
  private suppressed = 0;

  constructor(
    private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly message: string,
    private readonly quietMs = 10_000,
  ) {}

  event(fields: Record<string, unknown>): void {
    const now = this.clock.monotonicMs();
    if (now - this.lastLoggedMs < this.quietMs) {
      this.suppressed++;
      return;
    }
    this.lastLoggedMs = now;
    const suppressed = this.suppressed;
    this.suppressed = 0;
    this.logger.warn(suppressed > 0 ? { ...fields, suppressedSinceLastLog: suppressed } : fields, this.message);
  }
}
