/**
 * Per-connection state, in one place: protocol version, name, authentication, selected db; and
 * the server-wide services a connection's commands consult (identity for HELLO, authentication).
 */
import { type ProtocolVersion, ProtocolVersion as Proto } from './reply-writer.js';

export interface ConnectionState {
  /** Redis's client id: unique per server process, from 1 up. */
  readonly id: number;
  protocol: ProtocolVersion;
  /** CLIENT SETNAME / HELLO SETNAME; null when unset. */
  name: string | null;
  /** True once AUTH/HELLO AUTH succeeded, or from the start when no authentication is required. */
  authenticated: boolean;
  /** The user the connection acts as (`default` until AUTH names another). */
  user: string;
  /** Always 0: Concord has one keyspace; SELECT of any other db is refused. */
  db: number;
  /** CLIENT SETINFO LIB-NAME / LIB-VER, shown by CLIENT INFO/LIST later. */
  libName: string | null;
  libVersion: string | null;
  /** Set by QUIT (or a protocol error): close once the replies owed so far are written. */
  closeAfterReply: boolean;
  /** READONLY (emulated cluster mode): a follower serves this connection's reads itself instead of answering MOVED. */
  replicaReads: boolean;
}

/** What HELLO reports (Redis's field names). */
export interface ServerIdentity {
  /** `redis` by default: some clients key features on it. */
  readonly server: string;
  /** The Redis version whose behaviour this layer follows. */
  readonly version: string;
  readonly mode: 'standalone' | 'cluster';
  /** `master` on the leader, `replica` elsewhere; the server wiring supplies the live answer. */
  role(): 'master' | 'replica';
}

export const AuthOutcome = { ok: 'ok', wrongPassword: 'wrongPassword' } as const;
export type AuthOutcome = (typeof AuthOutcome)[keyof typeof AuthOutcome];

export interface ConnectionServices {
  readonly identity: ServerIdentity;
  /** True when connections must authenticate (Concord auth enabled; may be a getter: auth can be switched on live). */
  readonly authRequired: boolean;
  /**
   * Checks a user's password (Concord users and roles) and, on success, logs `connection` in as
   * that user; absent when authentication is off.
   */
  readonly authenticate?: (user: string, password: Buffer, connection: ConnectionState) => AuthOutcome | Promise<AuthOutcome>;
}

export const defaultIdentity: ServerIdentity = Object.freeze({
  server: 'redis',
  version: '7.0.15',
  mode: 'standalone' as const,
  role: () => 'master' as const,
});

export function newConnectionState(id: number, authRequired: boolean): ConnectionState {
  return {
    id,
    protocol: Proto.resp2,
    name: null,
    authenticated: !authRequired,
    user: 'default',
    db: 0,
    libName: null,
    libVersion: null,
    closeAfterReply: false,
    replicaReads: false,
  };
}
