/**
 * The socket adapter: one RespConnection over one Node net.Socket (TCP, Unix or TLS), and a
 * net.Server that serves a command table.
 *
 * Backpressure both ways: when write() returns false the driver stops dispatching and reads pause
 * until 'drain'; when the driver's in-flight bound is reached reads pause until replies leave.
 * Closing: QUIT and protocol errors end the socket after the owed replies are flushed (end, then
 * destroy on finish); cross-protocol requests and query-buffer overflow destroy it at once.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { CommandTable } from './command-table.js';
import { type ConnectionServices } from './connection-state.js';
import { type CloseReason, CloseReason as Reason, RespConnection } from './connection.js';
import type { RespLimits } from './limits.js';

export interface RespSocketOptions {
  readonly table: CommandTable;
  readonly services: ConnectionServices;
  readonly limits?: RespLimits;
  readonly onHandlerError?: (error: unknown, command: string) => void;
  readonly onClose?: (connection: RespConnection, reason: CloseReason | 'peerClosed') => void;
}

export function attachRespSocket(socket: Socket, id: number, options: RespSocketOptions): RespConnection {
  let writeBlocked = false;
  let driverPaused = false;
  let closeReason: CloseReason | null = null;
  const updateReading = (): void => {
    if (writeBlocked || driverPaused) socket.pause();
    else socket.resume();
  };
  socket.setNoDelay(true);
  const connection = new RespConnection({
    id,
    table: options.table,
    services: options.services,
    ...(options.limits ? { limits: options.limits } : {}),
    ...(options.onHandlerError ? { onHandlerError: options.onHandlerError } : {}),
    output: {
      write: (bytes) => {
        if (socket.destroyed) return;
        if (!socket.write(bytes) && !writeBlocked) {
          writeBlocked = true;
          connection.setOutputBlocked(true);
          updateReading();
          socket.once('drain', () => {
            writeBlocked = false;
            updateReading();
            connection.setOutputBlocked(false);
          });
        }
      },
      close: (reason) => {
        closeReason = reason;
        if (reason === Reason.quit || reason === Reason.protocolError) {
          socket.end(() => socket.destroy());
        } else {
          socket.destroy();
        }
      },
      setReadsPaused: (paused) => {
        driverPaused = paused;
        updateReading();
      },
    },
  });
  socket.on('data', (chunk: Buffer) => connection.receive(chunk));
  // A reset or a timeout is the peer's doing: nothing to report to it.
  socket.on('error', () => socket.destroy());
  socket.on('close', () => {
    connection.end();
    options.onClose?.(connection, closeReason ?? 'peerClosed');
  });
  return connection;
}

/** A net.Server whose connections speak RESP with `options.table`; client ids count from 1. */
export function createRespServer(options: RespSocketOptions): Server & { readonly connections: ReadonlySet<RespConnection> } {
  let nextId = 1;
  const connections = new Set<RespConnection>();
  const server = createServer((socket) => {
    const connection = attachRespSocket(socket, nextId++, {
      ...options,
      onClose: (c, reason) => {
        connections.delete(c);
        options.onClose?.(c, reason);
      },
    });
    connections.add(connection);
  });
  return Object.assign(server, { connections: connections as ReadonlySet<RespConnection> });
}
