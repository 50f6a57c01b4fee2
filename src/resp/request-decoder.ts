/**
 * The resumable RESP request decoder: bytes in (any split), requests out, one at a time.
 *
 * Requests are RESP2 multibulk (`*N\r\n$len\r\n...\r\n`) or inline lines (`PING\r\n`), as a Redis
 * server takes them. Pull-based on purpose: `push` only buffers, `next` parses one request, so the
 * connection driver takes no more requests than its in-flight bound and the rest of a chunk waits
 * here (counted against the query-buffer bound) while the socket owner pauses reads.
 *
 * Split independence: every verdict depends on the bytes only, never on where chunks end (a header
 * or inline line is "too big" when more than `inlineLineBytesMax` bytes precede its terminator,
 * whether or not the terminator has arrived). Reassembly is O(size): one buffer that grows
 * geometrically and is compacted only when at least half of it is consumed, and line scans resume
 * where the previous scan stopped. Arguments are copied out as Buffers (binary safe).
 */
import { type RespLimits, defaultRespLimits } from './limits.js';
import { splitInlineArgs } from './split-args.js';

/** Redis's protocol error texts (networking.c), as sent after `-`. */
export const ProtocolErrorText = {
  tooBigInline: 'ERR Protocol error: too big inline request',
  unbalancedQuotes: 'ERR Protocol error: unbalanced quotes in request',
  tooBigMultibulkCount: 'ERR Protocol error: too big mbulk count string',
  tooBigBulkCount: 'ERR Protocol error: too big bulk count string',
  invalidMultibulkLength: 'ERR Protocol error: invalid multibulk length',
  unauthenticatedMultibulkLength: 'ERR Protocol error: unauthenticated multibulk length',
  invalidBulkLength: 'ERR Protocol error: invalid bulk length',
  unauthenticatedBulkLength: 'ERR Protocol error: unauthenticated bulk length',
} as const;

export function expectedDollarText(got: number): string {
  // Redis maps CR and LF in error texts to spaces so the reply stays one line.
  const ch = got === 0x0d || got === 0x0a ? ' ' : String.fromCharCode(got);
  return `ERR Protocol error: expected '$', got '${ch}'`;
}

export const DecodeVerdict = {
  /** One complete request. */
  request: 'request',
  /** More bytes are needed. */
  incomplete: 'incomplete',
  /** Reply `-message` after the replies already owed, then close the connection. */
  protocolError: 'protocolError',
  /** The query buffer bound was passed: close without a reply (Redis logs and drops the client). */
  queryBufferExceeded: 'queryBufferExceeded',
} as const;
export type DecodeVerdict = (typeof DecodeVerdict)[keyof typeof DecodeVerdict];

export type DecodeResult =
  | { readonly kind: typeof DecodeVerdict.request; readonly args: Buffer[] }
  | { readonly kind: typeof DecodeVerdict.incomplete }
  | { readonly kind: typeof DecodeVerdict.protocolError; readonly message: string }
  | { readonly kind: typeof DecodeVerdict.queryBufferExceeded };

const incomplete: DecodeResult = Object.freeze({ kind: DecodeVerdict.incomplete });
const initialBufferBytes = 16 * 1024;
/** An emptied buffer larger than this is dropped, so one big request does not pin memory. */
const retainedBufferBytesMax = 1024 * 1024;
const CR = 0x0d;
const LF = 0x0a;

/**
 * Redis's string2ll over `buf[s, e)`: an optional '-', no '+', no spaces, no leading zeros.
 * Null when it is not such a number or is past 2^53 (every cap here is far below that).
 */
export function parseRedisInteger(buf: Uint8Array, s: number, e: number): number | null {
  if (e <= s) return null;
  if (e - s === 1 && buf[s] === 0x30) return 0;
  let negative = false;
  if (buf[s] === 0x2d) {
    negative = true;
    s++;
    if (s === e) return null;
  }
  const first = buf[s]!;
  if (first < 0x31 || first > 0x39) return null;
  if (e - s > 16) return null;
  let value = 0;
  for (let i = s; i < e; i++) {
    const c = buf[i]!;
    if (c < 0x30 || c > 0x39) return null;
    value = value * 10 + (c - 0x30);
  }
  return negative ? -value : value;
}

export class RequestDecoder {
  private buf: Buffer = Buffer.allocUnsafe(initialBufferBytes);
  private start = 0;
  private end = 0;
  /** Absolute index where the current line scan resumes. */
  private scanFrom = 0;
  /** Arguments still wanted by the multibulk request in progress (0: none in progress). */
  private argsWanted = 0;
  private args: Buffer[] = [];
  private argsBytes = 0;
  /** Length of the bulk being read, -1 before its `$` header. */
  private bulkLength = -1;
  private failure: DecodeResult | null = null;
  /**
   * True while the connection must authenticate and has not: the stricter caps apply. The
   * driver sets it before each `next`, as Redis consults authRequired() per header.
   */
  unauthenticated = false;

  constructor(readonly limits: RespLimits = defaultRespLimits) {}

  /** Bytes held: unparsed input plus the arguments of the request being assembled. */
  get bufferedBytes(): number {
    return this.end - this.start + this.argsBytes;
  }

  push(chunk: Uint8Array): void {
    if (this.failure !== null || chunk.length === 0) return;
    if (this.buf.length - this.end < chunk.length) this.makeRoom(chunk.length);
    this.buf.set(chunk, this.end);
    this.end += chunk.length;
    if (this.bufferedBytes > this.limits.queryBufferBytesMax) this.failure = { kind: DecodeVerdict.queryBufferExceeded };
  }

  private makeRoom(needed: number): void {
    const live = this.end - this.start;
    if (this.start >= live && live + needed <= this.buf.length) {
      // At least half is consumed: moving the live half costs no more than what was consumed.
      this.buf.copyWithin(0, this.start, this.end);
    } else {
      const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, live + needed, initialBufferBytes));
      this.buf.copy(grown, 0, this.start, this.end);
      this.buf = grown;
    }
    this.scanFrom -= this.start;
    this.end = live;
    this.start = 0;
  }

  /** The next verdict. After a protocol error or overflow it keeps answering that verdict. */
  next(): DecodeResult {
    if (this.failure !== null) return this.failure;
    const result = this.parse();
    if (result.kind === DecodeVerdict.protocolError) this.failure = result;
    if (this.start === this.end && this.argsWanted === 0) this.reset();
    return result;
  }

  private reset(): void {
    this.start = this.end = this.scanFrom = 0;
    if (this.buf.length > retainedBufferBytesMax) this.buf = Buffer.allocUnsafe(initialBufferBytes);
  }

  private fail(message: string): DecodeResult {
    return { kind: DecodeVerdict.protocolError, message };
  }

  private parse(): DecodeResult {
    for (;;) {
      if (this.argsWanted > 0) return this.parseBulks();
      if (this.start === this.end) return incomplete;
      if (this.buf[this.start] !== 0x2a) return this.parseInline();
      const cr = this.findLine(CR, ProtocolErrorText.tooBigMultibulkCount);
      if (typeof cr !== 'number') return cr;
      const count = parseRedisInteger(this.buf, this.start + 1, cr);
      if (count === null || count > this.limits.multibulkCountMax) return this.fail(ProtocolErrorText.invalidMultibulkLength);
      if (this.unauthenticated && count > this.limits.unauthenticatedMultibulkCountMax) {
        return this.fail(ProtocolErrorText.unauthenticatedMultibulkLength);
      }
      this.consumeTo(cr + 2);
      // `*0` and `*-1` are empty requests: skipped, as Redis does.
      if (count > 0) {
        this.argsWanted = count;
        this.args = [];
        this.argsBytes = 0;
        this.bulkLength = -1;
      }
    }
  }

  /**
   * Finds the terminator of the line at `start`. For CR (header lines) the byte after it must have
   * arrived too; Redis skips that byte without checking it is LF, and so does this.
   */
  private findLine(terminator: number, tooBig: string): number | DecodeResult {
    const from = Math.max(this.scanFrom, this.start);
    const at = this.buf.indexOf(terminator, from);
    const found = at !== -1 && at < this.end;
    // A line's size leaves out its terminator (CRLF or LF): decided the same before it arrives.
    const stop = found ? at : this.end;
    const lineBytes = stop - this.start - (terminator === LF && stop > this.start && this.buf[stop - 1] === CR ? 1 : 0);
    if (lineBytes > this.limits.inlineLineBytesMax) return this.fail(tooBig);
    if (!found) {
      this.scanFrom = this.end;
      return incomplete;
    }
    if (terminator === CR && at + 1 >= this.end) {
      this.scanFrom = at;
      return incomplete;
    }
    return at;
  }

  private consumeTo(index: number): void {
    this.start = index;
    this.scanFrom = index;
  }

  private parseInline(): DecodeResult {
    for (;;) {
      const lf = this.findLine(LF, ProtocolErrorText.tooBigInline);
      if (typeof lf !== 'number') return lf;
      const lineEnd = lf > this.start && this.buf[lf - 1] === CR ? lf - 1 : lf;
      const args = splitInlineArgs(this.buf, this.start, lineEnd);
      if (args === null) return this.fail(ProtocolErrorText.unbalancedQuotes);
      this.consumeTo(lf + 1);
      if (args.length > 0) return { kind: DecodeVerdict.request, args };
      // An empty line is no request (Redis skips it); go on with the next one.
      if (this.start === this.end) return incomplete;
      if (this.buf[this.start] === 0x2a) return this.parse();
    }
  }

  private parseBulks(): DecodeResult {
    while (this.args.length < this.argsWanted) {
      if (this.bulkLength < 0) {
        const cr = this.findLine(CR, ProtocolErrorText.tooBigBulkCount);
        if (typeof cr !== 'number') return cr;
        if (this.buf[this.start] !== 0x24) return this.fail(expectedDollarText(this.buf[this.start]!));
        const length = parseRedisInteger(this.buf, this.start + 1, cr);
        if (length === null || length < 0 || length > this.limits.bulkLengthBytesMax) {
          return this.fail(ProtocolErrorText.invalidBulkLength);
        }
        if (this.unauthenticated && length > this.limits.unauthenticatedBulkLengthBytesMax) {
          return this.fail(ProtocolErrorText.unauthenticatedBulkLength);
        }
        this.consumeTo(cr + 2);
        this.bulkLength = length;
      }
      // The bulk and the two bytes after it (Redis skips them unchecked, as its CRLF).
      if (this.end - this.start < this.bulkLength + 2) return incomplete;
      const arg = Buffer.allocUnsafe(this.bulkLength);
      this.buf.copy(arg, 0, this.start, this.start + this.bulkLength);
      this.args.push(arg);
      this.argsBytes += arg.length;
      this.consumeTo(this.start + this.bulkLength + 2);
      this.bulkLength = -1;
    }
    const args = this.args;
    this.args = [];
    this.argsBytes = 0;
    this.argsWanted = 0;
    return { kind: DecodeVerdict.request, args };
  }
}
