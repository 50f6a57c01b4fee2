/** Redis commands over Concord's key-value API: string commands, keyspace commands and server introspection, emulated Redis Cluster, per-connection sessions. */
export * from './backend.js';
export * from './redis-errors.js';
export * from './connection-session.js';
export * from './string-commands.js';
export * from './server-commands.js';
export * from './cluster-commands.js';
