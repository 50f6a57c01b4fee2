/**
 * The client's connection to one member: the net layer's RPC client over a
 * connection to the member's client URL, speaking the client protocol's
 * method table (src/protocol/schemas.ts).
 */
import { connect as netConnect, RpcClient, type TlsOptions } from '../net/index.js';
import { clientMethods } from '../protocol/schemas.js';
import type { Clock } from '../common/clock.js';
import type { RpcChannel } from './channel.js';

export interface NetChannelOptions {
  readonly timeoutMs: number;
  /** For tls:// endpoints. */
  readonly tls?: TlsOptions;
  /** Calls in flight on this connection at once (default 4096): one more is retried after a pause. */
  readonly pendingCallsMax?: number;
  /** The client's clock: the connect timeout, call deadlines and the close timeout run on it (default: the system clock). */
  readonly clock?: Clock;
}

export async function createRpcChannel(address: string, options: NetChannelOptions): Promise<RpcChannel> {
  const connection = await netConnect(address, {
    timeoutMs: options.timeoutMs,
    ...(options.tls !== undefined ? { tls: options.tls } : {}),
    // Answers a client waits for are small; keep TCP keepalive so a dead peer is noticed.
    keepAliveMs: 30_000,
    ...(options.clock !== undefined ? { clock: options.clock } : {}),
  });
  const rpc = new RpcClient(connection, clientMethods, { pendingCallsMax: options.pendingCallsMax ?? 4096 });
  return {
    call: (method, request, callOptions) => rpc.call(method as never, request as never, callOptions),
    onClose: (listener) => connection.onClose(() => listener()),
    close: () => connection.close(),
    destroy: () => connection.destroy(),
  };
}
