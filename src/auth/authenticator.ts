/**
 * Turns credentials into an authenticated principal: a user name and
 * password checked against the replicated password record, or the common
 * name (CN) of a client certificate that TLS has already verified against the
 * trusted CA (`--client-cert-auth`: the CN is the user, as in etcd).
 *
 * Failures never say whether the user exists: an unknown user costs the same
 * scrypt work as a wrong password (against a dummy record), and both give the
 * same AuthenticationFailedError.
 */
import { AuthenticationFailedError, bytesEqual, type AuthView, type PasswordRecord } from '../kv/index.js';
import { PasswordHasher } from './password.js';

export const AuthMethod = {
  Password: 'password',
  Certificate: 'certificate',
} as const;
export type AuthMethod = (typeof AuthMethod)[keyof typeof AuthMethod];

export interface Principal {
  readonly user: string;
  readonly method: AuthMethod;
  /** The auth revision at authentication (for logs; rights are checked against the current state). */
  readonly authRevision: number;
  /** The password record that was verified (password logins): a later `user passwd` makes the principal stale. */
  readonly credential: PasswordRecord | null;
}

/** The parts of node:tls's PeerCertificate this module reads. */
export interface CertificateSubject {
  readonly subject?: { readonly CN?: string | readonly string[] } | null;
}

/** The single CN of a verified client certificate, or null (none, empty, or several). */
export function commonNameOf(certificate: CertificateSubject | null | undefined): string | null {
  const cn = certificate?.subject?.CN;
  if (typeof cn !== 'string' || cn.length === 0) return null;
  return cn;
}

export class Authenticator {
  private dummy: PasswordRecord | null = null;

  constructor(
    /** The live replicated state (the state machine's `auth`). */
    private readonly view: AuthView,
    private readonly hasher: PasswordHasher,
  ) {}

  /**
   * Verifies `password` for `user`. Throws AuthenticationFailedError for an
   * unknown user, a user without a password (certificate-only) or a wrong
   * password; AuthOverloadedError when too many attempts are in progress;
   * InvalidPasswordError for an empty or oversize password. Works whether or
   * not auth is enabled (the server only needs it while it is).
   */
  async authenticatePassword(user: string, password: string): Promise<Principal> {
    const record = this.view.user(user);
    const credential = record?.password ?? null;
    // The same work whether or not the user exists (no user enumeration by timing).
    const ok = await this.hasher.verify(password, credential ?? (await this.dummyRecord()));
    // Read the state again: the user may have changed while the hash ran.
    const now = this.view.user(user);
    if (!ok || credential === null || now === undefined || now.password === null || !samePassword(now.password, credential)) {
      throw new AuthenticationFailedError({ user });
    }
    return { user, method: AuthMethod.Password, authRevision: this.view.revision, credential };
  }

  /**
   * The principal of a client certificate TLS has verified. With auth
   * enabled the CN must name an existing user; with auth disabled any CN is
   * accepted (everything is allowed anyway). Throws AuthenticationFailedError.
   */
  authenticateCertificate(certificate: CertificateSubject | null | undefined): Principal {
    const cn = commonNameOf(certificate);
    if (cn === null) throw new AuthenticationFailedError({ user: null });
    if (this.view.enabled && this.view.user(cn) === undefined) throw new AuthenticationFailedError({ user: cn });
    return { user: cn, method: AuthMethod.Certificate, authRevision: this.view.revision, credential: null };
  }

  /**
   * Whether an earlier principal still holds: its user exists and, for a
   * password login, the password was not changed since. The wiring checks it
   * when the auth revision moved, and drops a stale connection's login.
   */
  isCurrent(principal: Principal): boolean {
    const record = this.view.user(principal.user);
    if (record === undefined) return false;
    if (principal.method === AuthMethod.Certificate) return true;
    return record.password !== null && principal.credential !== null && samePassword(record.password, principal.credential);
  }

  private async dummyRecord(): Promise<PasswordRecord> {
    this.dummy ??= await this.hasher.hash('concord-dummy-password');
    return this.dummy;
  }
}

function samePassword(a: PasswordRecord, b: PasswordRecord): boolean {
  return a === b || (a.algorithm === b.algorithm && bytesEqual(a.salt, b.salt) && bytesEqual(a.hash, b.hash));
}
