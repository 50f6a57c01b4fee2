/**
 * The reply encoder: `Reply` values to RESP2 or RESP3 bytes, with Redis's RESP2 fallbacks.
 *
 * RESP2 has no map, set, double, boolean, big number, verbatim, push or typed null, so Redis sends
 * them as: map -> flat array of 2n items, set/push -> array, double/big number -> bulk string,
 * boolean -> integer 1/0, verbatim -> bulk string without its format, null -> `$-1` (or `*-1` for a
 * null array). The writer fills one scratch buffer that grows geometrically and is reused; `take`
 * copies what was written into one exactly sized Buffer: one allocation per flush, which the socket
 * may keep as long as it likes.
 */
import { type Reply, ReplyType } from './reply.js';

export const ProtocolVersion = { resp2: 2, resp3: 3 } as const;
export type ProtocolVersion = (typeof ProtocolVersion)[keyof typeof ProtocolVersion];

const CRLF = '\r\n';
const scratchInitialBytes = 4 * 1024;
/** A scratch buffer grown past this by one big reply is dropped after the flush. */
const scratchRetainedBytesMax = 1024 * 1024;

/** Redis's text for a double: shortest round-trip digits, `inf`, `-inf`, `nan`. */
export function formatDouble(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (value === Infinity) return 'inf';
  if (value === -Infinity) return '-inf';
  return Object.is(value, -0) ? '-0' : String(value);
}

/** Simple strings and errors are one line: Redis maps CR and LF to spaces. */
function oneLine(text: string): string {
  return /[\r\n]/.test(text) ? text.replace(/[\r\n]/g, ' ') : text;
}

export class ReplyWriter {
  private buf: Buffer = Buffer.allocUnsafe(scratchInitialBytes);
  private length = 0;

  get writtenBytes(): number {
    return this.length;
  }

  private reserve(bytes: number): void {
    if (this.length + bytes <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + bytes));
    this.buf.copy(grown, 0, 0, this.length);
    this.buf = grown;
  }

  private ascii(text: string): void {
    this.reserve(text.length);
    this.length += this.buf.write(text, this.length, 'latin1');
  }

  private utf8(text: string): void {
    this.reserve(Buffer.byteLength(text));
    this.length += this.buf.write(text, this.length, 'utf8');
  }

  private bytes(data: Uint8Array): void {
    this.reserve(data.length);
    this.buf.set(data, this.length);
    this.length += data.length;
  }

  private header(prefix: string, n: number | bigint): void {
    this.ascii(`${prefix}${n}${CRLF}`);
  }

  private bulkString(value: Uint8Array | string): void {
    if (typeof value === 'string') {
      this.header('$', Buffer.byteLength(value));
      this.utf8(value);
    } else {
      this.header('$', value.length);
      this.bytes(value);
    }
    this.ascii(CRLF);
  }

  write(r: Reply, version: ProtocolVersion): void {
    const resp3 = version === ProtocolVersion.resp3;
    switch (r.type) {
      case ReplyType.simple:
        this.ascii('+');
        this.utf8(oneLine(r.value));
        this.ascii(CRLF);
        return;
      case ReplyType.error:
        this.ascii('-');
        this.utf8(oneLine(r.message));
        this.ascii(CRLF);
        return;
      case ReplyType.integer:
        this.header(':', r.value);
        return;
      case ReplyType.bulk:
        this.bulkString(r.value);
        return;
      case ReplyType.null:
        this.ascii(resp3 ? `_${CRLF}` : `$-1${CRLF}`);
        return;
      case ReplyType.nullArray:
        this.ascii(resp3 ? `_${CRLF}` : `*-1${CRLF}`);
        return;
      case ReplyType.array:
      case ReplyType.set:
      case ReplyType.push: {
        const prefix = !resp3 || r.type === ReplyType.array ? '*' : r.type === ReplyType.set ? '~' : '>';
        this.header(prefix, r.items.length);
        for (const item of r.items) this.write(item, version);
        return;
      }
      case ReplyType.map:
        if (resp3) this.header('%', r.entries.length);
        else this.header('*', r.entries.length * 2);
        for (const [k, v] of r.entries) {
          this.write(k, version);
          this.write(v, version);
        }
        return;
      case ReplyType.double:
        if (resp3) this.ascii(`,${formatDouble(r.value)}${CRLF}`);
        else this.bulkString(formatDouble(r.value));
        return;
      case ReplyType.boolean:
        this.ascii(resp3 ? `#${r.value ? 't' : 'f'}${CRLF}` : `:${r.value ? 1 : 0}${CRLF}`);
        return;
      case ReplyType.bigNumber:
        if (resp3) this.ascii(`(${r.value}${CRLF}`);
        else this.bulkString(String(r.value));
        return;
      case ReplyType.verbatim:
        if (resp3) {
          const body = `${r.format.padEnd(3, ' ').slice(0, 3)}:${r.value}`;
          this.header('=', Buffer.byteLength(body));
          this.utf8(body);
          this.ascii(CRLF);
        } else {
          this.bulkString(r.value);
        }
        return;
    }
  }

  /** Everything written since the last take, in one new Buffer; the scratch is reused. */
  take(): Buffer {
    const out = Buffer.allocUnsafe(this.length);
    this.buf.copy(out, 0, 0, this.length);
    this.length = 0;
    if (this.buf.length > scratchRetainedBytesMax) this.buf = Buffer.allocUnsafe(scratchInitialBytes);
    return out;
  }
}

/** One reply's bytes (for tests and one-off writes). */
export function encodeReply(r: Reply, version: ProtocolVersion): Buffer {
  const w = new ReplyWriter();
  w.write(r, version);
  return w.take();
}
