/**
 * What the benchmark's processes share: the echo method, the raw framing
 * helpers and the messages exchanged over the fork() IPC channel.
 */
import { defineMethods, s } from '../../src/net/index.js';

export const echoMethods = defineMethods({
  echo: { id: 1, request: s.bytes(), response: s.bytes() },
});

export const Mode = { Rpc: 'rpc', Raw: 'raw' } as const;
export type Mode = (typeof Mode)[keyof typeof Mode];

export interface LoadConfig {
  readonly mode: Mode;
  readonly address: string;
  readonly payloadBytes: number;
  readonly connections: number;
  readonly inflight: number;
  readonly warmupMs: number;
  readonly durationMs: number;
}

export interface LoadResult {
  readonly ops: number;
  readonly seconds: number;
  readonly p50Us: number;
  readonly p99Us: number;
  /** Client CPU time (user + system) during the measured window. */
  readonly cpuUs: number;
}

/** Parses a raw length-prefixed stream (the same as the reference anchor, net-echo.mjs). */
export class RawFrameReader {
  private pending: Buffer | null = null;
  constructor(private readonly onFrame: (buffer: Buffer, offset: number, length: number) => void) {}
  push(chunk: Buffer): void {
    const b = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    let offset = 0;
    while (b.length - offset >= 4) {
      const length = b.readUInt32BE(offset);
      if (b.length - offset - 4 < length) break;
      this.onFrame(b, offset, length);
      offset += 4 + length;
    }
    this.pending = offset === b.length ? null : b.subarray(offset);
  }
}

export function parseArgs(argv: readonly string[]): Map<string, string> {
  const args = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) continue;
    const next = argv[i + 1];
    if (next !== undefined && !next.startsWith('--')) {
      args.set(arg.slice(2), next);
      i++;
    } else args.set(arg.slice(2), 'true');
  }
  return args;
}

/** Percentile of already sorted samples. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}
