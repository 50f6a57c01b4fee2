/**
 * What the client needs from a connection to one member: RPC calls that can
 * be pipelined, and a way to learn that the connection died. The net layer's
 * RPC client provides it (net-channel.ts); keeping the seam this narrow lets
 * the retry logic be read without the transport in mind.
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
