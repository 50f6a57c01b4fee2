/**
 * What the command handlers need from a connection's session: reads, the
 * connection's write order, and numbered writes. A ConnectionSession is the
 * live one; during EXEC the queued commands run on a transaction's overlay
 * (overlay-session.ts) with the same interface.
 */
import type { ConnectionSession } from './connection-session.js';

export type KvSession = Pick<ConnectionSession, 'read' | 'readNow' | 'serialize' | 'writeNow'>;
