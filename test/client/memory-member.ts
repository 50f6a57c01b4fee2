/**
 * In-memory "members" for client tests, reached through connect's
 * `channelFactory`: the client protocol's handlers as plain functions,
 * answered through a ManualClock, no sockets. A member can be paused (as
 * SIGSTOP does to a process: its kernel still accepts the connection, but no
 * call is answered and a graceful close never completes). Records every call
 * and how each channel ended (closed gracefully or destroyed).
 */
import type { RpcChannel } from '../../src/client/index.js';
import { NetTimeoutError } from '../../src/net/index.js';
import type { ManualClock } from '../../src/testing/manual-clock.js';

export type Handler = (request: any, endpoint: string) => unknown;

export const ChannelState = { Open: 'open', Closed: 'closed', Destroyed: 'destroyed', Closing: 'closing' } as const;
export type ChannelState = (typeof ChannelState)[keyof typeof ChannelState];

export class MemoryMembers {
  readonly calls: { endpoint: string; method: string; request: any }[] = [];
  readonly opened: string[] = [];
  readonly channels: { endpoint: string; state: ChannelState }[] = [];
  /** Endpoints that accept connections and never answer. */
  readonly paused = new Set<string>();

  constructor(
    private readonly clock: ManualClock,
    private readonly handlers: Partial<Record<string, Handler>>,
  ) {}

  callsOf(method: string): { endpoint: string; method: string; request: any }[] {
    return this.calls.filter((c) => c.method === method);
  }

  readonly channelFactory = async (endpoint: string): Promise<RpcChannel> => {
    this.opened.push(endpoint);
    const record: { endpoint: string; state: ChannelState } = { endpoint, state: ChannelState.Open };
    this.channels.push(record);
    const closeListeners: (() => void)[] = [];
    const pending = new Set<(error: Error) => void>();
    const ended = (state: ChannelState): void => {
      if (record.state === ChannelState.Closed || record.state === ChannelState.Destroyed) return;
      record.state = state;
      for (const fail of pending) fail(new Error('connection closed'));
      for (const listener of closeListeners.splice(0)) listener();
    };
    return {
      call: (method, request, options) => {
        this.calls.push({ endpoint, method, request });
        const handler = this.handlers[method];
        const paused = this.paused.has(endpoint);
        return new Promise((resolve, reject) => {
          pending.add(reject);
          // A channel honours the call's timeoutMs itself (the net layer's RPC client does).
          const timer = this.clock.setTimer(options.timeoutMs ?? 1e9, () => {
            pending.delete(reject);
            reject(new NetTimeoutError(`${method} timed out after ${options.timeoutMs} ms`));
          });
          if (handler === undefined || paused) return; // Never answers.
          this.clock.schedule(() => {
            timer.cancel();
            pending.delete(reject);
            try {
              resolve(handler(request, endpoint));
            } catch (error) {
              reject(error);
            }
          });
        });
      },
      onClose: (listener) => closeListeners.push(listener),
      close: () => {
        if (this.paused.has(endpoint)) {
          record.state = ChannelState.Closing;
          return new Promise<void>(() => undefined); // The paused peer never finishes the close.
        }
        ended(ChannelState.Closed);
        return Promise.resolve();
      },
      destroy: () => ended(ChannelState.Destroyed),
    };
  };
}
