/**
 * The named bounds of the RESP layer, with Redis 7.0's values where Redis has one.
 *
 * Why these numbers: a Redis client library, redis-cli and redis-benchmark are written against them,
 * so staying within Redis's envelope means nothing a real client sends is refused here that Redis
 * would take. The unauthenticated caps are Redis's answer to CVE-2021-32675: before AUTH a peer may
 * not make the server hold more than 10 arguments of 16 KiB each for one request.
 */

export interface RespLimits {
  /** Longest inline command line or `*`/`$` header line without its CRLF (Redis PROTO_INLINE_MAX_SIZE). */
  readonly inlineLineBytesMax: number;
  /** Largest `*N` argument count accepted (Redis 6's 1024*1024; Redis 7 takes up to INT_MAX). */
  readonly multibulkCountMax: number;
  /** Largest `$len` bulk argument (Redis `proto-max-bulk-len`, 512 MiB by default). */
  readonly bulkLengthBytesMax: number;
  /** Argument count cap while authentication is required and not yet done (Redis: 10). */
  readonly unauthenticatedMultibulkCountMax: number;
  /** Bulk length cap while authentication is required and not yet done (Redis: 16384). */
  readonly unauthenticatedBulkLengthBytesMax: number;
  /**
   * Bytes held for one connection's unparsed input plus the request being assembled (Redis
   * `client-query-buffer-limit`, 1 GiB). Past it the connection closes without a reply, as Redis does.
   */
  readonly queryBufferBytesMax: number;
  /**
   * Requests dispatched on one connection whose replies are not yet handed to the socket. At the
   * bound the driver stops taking requests and asks the socket owner to pause reads.
   */
  readonly inflightRequestsMax: number;
}

export const defaultRespLimits: RespLimits = Object.freeze({
  inlineLineBytesMax: 64 * 1024,
  multibulkCountMax: 1024 * 1024,
  bulkLengthBytesMax: 512 * 1024 * 1024,
  unauthenticatedMultibulkCountMax: 10,
  unauthenticatedBulkLengthBytesMax: 16 * 1024,
  queryBufferBytesMax: 1024 * 1024 * 1024,
  inflightRequestsMax: 1024,
});

export function respLimits(overrides: Partial<RespLimits> = {}): RespLimits {
  return Object.freeze({ ...defaultRespLimits, ...overrides });
}
