/**
 * What the client needs from a connection to one member: RPC calls that can
 * be pipelined, and a way to learn that the connection died. The net layer's
 * RPC client provides it (net-channel.ts); keeping the seam this narrow lets
 * the retry logic be read without the transport in mind, and lets the
 * deterministic simulator connect the real client to simulated members with
 * no sockets (connect's `channelFactory` option).
 *
 * A channel must end each call by itself: settle it within its `timeoutMs`
 * (rejecting with the net layer's NetTimeoutError) and on its `signal`
 * (NetAbortedError), and fail it with ConnectionClosedError when the connection
 * is lost: the retry loop waits on the call and decides from those errors
 * what to do next (failure.ts).
 */
export interface RpcChannel {
  call(method: string, request: unknown, options: { signal?: AbortSignal; timeoutMs?: number }): Promise<unknown>;
  /** Runs `listener` once when the connection closes or is lost. */
  onClose(listener: () => void): void;
  /** Graceful: lets in-flight calls finish. */
  close(): Promise<void>;
  /** Immediate: pending calls fail with ConnectionClosedError. */
  destroy(): void;
}

export type ChannelFactory = (address: string, options: { timeoutMs: number }) => Promise<RpcChannel>;
