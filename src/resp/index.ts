/** The Redis protocol (RESP2/RESP3) layer: request decoder, reply encoder, connection driver, command table, socket adapter. */
export * from './limits.js';
export * from './split-args.js';
export * from './request-decoder.js';
export * from './reply.js';
export * from './reply-writer.js';
export * from './command-table.js';
export * from './connection-state.js';
export * from './connection-commands.js';
export * from './connection.js';
export * from './socket-adapter.js';
