/**
 * The mem:// transport: an in-process pair of byte streams, no sockets.
 *
 * Each side is a Duplex stream with the parts of net.Socket the Connection
 * uses (cork/uncork, pause/resume, 'drain', setTimeout). Bytes still go
 * through framing and the codec, so a mem:// connection behaves like a real
 * one, including backpressure: a write is acknowledged only once the peer's
 * readable buffer has room. Delivery hops through setImmediate so two
 * endpoints answering each other never starve timers or I/O.
 */
import { Duplex } from 'node:stream';
import { ConnectError, ListenError } from './errors.js';

export class MemSocket extends Duplex {
  peer: MemSocket | undefined;
  /** The peer's write callback, held back while our readable buffer is full. */
  private blockedWrite: (() => void) | undefined;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(readonly label: string) {
    super({ allowHalfOpen: false, readableHighWaterMark: 64 * 1024, writableHighWaterMark: 16 * 1024 });
  }

  /** Like net.Socket#setTimeout: emit 'timeout' after `ms` with no traffic either way; 0 disables. */
  setTimeout(ms: number): this {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = ms > 0 ? setTimeout(() => this.emit('timeout'), ms).unref() : undefined;
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
  setNoDelay(): this {
    return this;
  }

  private touch(): void {
    this.idleTimer?.refresh();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.deliver(chunk, callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    this.deliver(Buffer.concat(chunks.map((c) => c.chunk)), callback);
  }

  private deliver(chunk: Buffer, callback: (error?: Error | null) => void): void {
    this.touch();
    setImmediate(() => {
      const peer = this.peer;
      if (!peer || peer.destroyed) {
        callback(new Error('mem peer closed'));
        return;
      }
      peer.touch();
      if (peer.push(chunk)) callback();
      else peer.blockedWrite = () => callback();
    });
  }

  override _read(): void {
    const blocked = this.blockedWrite;
    if (blocked) {
      this.blockedWrite = undefined;
      blocked();
    }
  }

  override _final(callback: (error?: Error | null) => void): void {
    setImmediate(() => {
      if (this.peer && !this.peer.destroyed) this.peer.push(null);
      callback();
    });
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    const peer = this.peer;
    this.peer = undefined;
    const blocked = this.blockedWrite;
    this.blockedWrite = undefined;
    blocked?.();
    // An abrupt close reaches the other side as a reset, like TCP.
    if (peer && !peer.destroyed) setImmediate(() => peer.destroy());
    callback(error);
  }
}

export interface MemListener {
  readonly name: string;
  accept(socket: MemSocket): void;
}

const listeners = new Map<string, MemListener>();
let connectionCount = 0;

export function memListen(name: string, accept: (socket: MemSocket) => void): { close(): void } {
  if (listeners.has(name)) throw new ListenError(`mem://${name}`, 'name already in use');
  const listener: MemListener = { name, accept };
  listeners.set(name, listener);
  return {
    close: () => {
      if (listeners.get(name) === listener) listeners.delete(name);
    },
  };
}

export function memConnect(name: string): Promise<MemSocket> {
  return new Promise((resolve, reject) => {
    // Connecting takes a turn of the event loop, as with real sockets.
    setImmediate(() => {
      const listener = listeners.get(name);
      if (!listener) {
        reject(new ConnectError(`mem://${name}`, 'no listener with that name'));
        return;
      }
      const n = ++connectionCount;
      const client = new MemSocket(`mem://${name}#${n}c`);
      const server = new MemSocket(`mem://${name}#${n}s`);
      client.peer = server;
      server.peer = client;
      listener.accept(server);
      resolve(client);
    });
  });
}
