/**
 * Replies as values. Handlers return a `Reply`; the connection encodes it for the protocol version
 * the connection spoke when the command ran (RESP2 or RESP3), so a handler never branches on the
 * version and the RESP2 fallbacks live in one place (reply-writer.ts).
 */

export const ReplyType = {
  simple: 'simple',
  error: 'error',
  integer: 'integer',
  bulk: 'bulk',
  /** RESP2 `$-1`, RESP3 `_`. */
  null: 'null',
  /** RESP2 `*-1`, RESP3 `_`. */
  nullArray: 'nullArray',
  array: 'array',
  map: 'map',
  set: 'set',
  double: 'double',
  boolean: 'boolean',
  bigNumber: 'bigNumber',
  verbatim: 'verbatim',
  push: 'push',
} as const;
export type ReplyType = (typeof ReplyType)[keyof typeof ReplyType];

export type Reply =
  | { readonly type: typeof ReplyType.simple; readonly value: string }
  | { readonly type: typeof ReplyType.error; readonly message: string }
  | { readonly type: typeof ReplyType.integer; readonly value: number | bigint }
  | { readonly type: typeof ReplyType.bulk; readonly value: Uint8Array | string }
  | { readonly type: typeof ReplyType.null }
  | { readonly type: typeof ReplyType.nullArray }
  | { readonly type: typeof ReplyType.array; readonly items: readonly Reply[] }
  | { readonly type: typeof ReplyType.map; readonly entries: readonly (readonly [Reply, Reply])[] }
  | { readonly type: typeof ReplyType.set; readonly items: readonly Reply[] }
  | { readonly type: typeof ReplyType.double; readonly value: number }
  | { readonly type: typeof ReplyType.boolean; readonly value: boolean }
  | { readonly type: typeof ReplyType.bigNumber; readonly value: bigint }
  | { readonly type: typeof ReplyType.verbatim; readonly format: string; readonly value: string }
  | { readonly type: typeof ReplyType.push; readonly items: readonly Reply[] };

/** Constructors, so handlers read as `reply.ok`, `reply.bulk(v)`, `reply.error('ERR ...')`. */
export const reply = {
  ok: Object.freeze({ type: ReplyType.simple, value: 'OK' }) as Reply,
  pong: Object.freeze({ type: ReplyType.simple, value: 'PONG' }) as Reply,
  null: Object.freeze({ type: ReplyType.null }) as Reply,
  nullArray: Object.freeze({ type: ReplyType.nullArray }) as Reply,
  simple: (value: string): Reply => ({ type: ReplyType.simple, value }),
  /** `message` starts with the error code (`ERR`, `WRONGTYPE`, `NOAUTH` ...), as Redis sends it. */
  error: (message: string): Reply => ({ type: ReplyType.error, message }),
  integer: (value: number | bigint): Reply => ({ type: ReplyType.integer, value }),
  bulk: (value: Uint8Array | string): Reply => ({ type: ReplyType.bulk, value }),
  /** A bulk, or the null bulk for a missing value. */
  bulkOrNull: (value: Uint8Array | string | null | undefined): Reply =>
    value === null || value === undefined ? reply.null : { type: ReplyType.bulk, value },
  array: (items: readonly Reply[]): Reply => ({ type: ReplyType.array, items }),
  map: (entries: readonly (readonly [Reply, Reply])[]): Reply => ({ type: ReplyType.map, entries }),
  set: (items: readonly Reply[]): Reply => ({ type: ReplyType.set, items }),
  double: (value: number): Reply => ({ type: ReplyType.double, value }),
  boolean: (value: boolean): Reply => ({ type: ReplyType.boolean, value }),
  bigNumber: (value: bigint): Reply => ({ type: ReplyType.bigNumber, value }),
  /** RESP3 verbatim string; `format` is three characters (`txt`, `mkd`). */
  verbatim: (value: string, format = 'txt'): Reply => ({ type: ReplyType.verbatim, format, value }),
  push: (items: readonly Reply[]): Reply => ({ type: ReplyType.push, items }),
} as const;
