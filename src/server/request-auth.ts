/**
 * Who a client request acts as, and whether it may do what it asks: the
 * principal of each client connection (a password login, or the client
 * certificate's CN with --client-cert-auth), the user a forwarded request
 * carries, and the checks of kv-service.ts with their catch-up rule: a
 * refusal stands only once it was judged on auth state at least as new as
 * the leader's (this member may lag a grant that was acknowledged already).
 */
import { Authenticator, Authorizer, checkCommand, type PasswordHasher, type Principal } from '../auth/index.js';
import { AuthenticationFailedError, PermissionDeniedError, type AuthView, type Command, type EntryPrincipal } from '../kv/index.js';
import type { Connection } from '../net/index.js';

export interface RequestContext {
  /** True when another member forwarded this request (do not forward again). */
  readonly forwarded: boolean;
  /** The client connection the request came on (absent: a forwarded request, or a test). */
  readonly connection?: Connection<any>;
  /** Aborted when the caller gives up or the connection closes (a client request). */
  readonly signal?: AbortSignal;
  /** A forwarded request: the user the forwarding member authenticated (null: none). */
  readonly forwardedUser?: string | null;
}

/**
 * The field a follower adds to a request it forwards: the user it acts as.
 * The leader checks the request again, against its own (newest) auth state,
 * as that user; a follower whose auth state lags cannot let through what the
 * leader would refuse. Only members send it: trust in it is trust in the peer
 * port (mutual TLS between members, docs/security.md).
 */
export const FORWARDED_USER_FIELD = 'forwardedUser';

export function forwardedUserOf(request: unknown): string | null {
  const value = (request as Record<string, unknown>)[FORWARDED_USER_FIELD];
  return typeof value === 'string' && value.length > 0 ? value : null;
}

/** What the checks need of the member. */
export interface AuthReplica {
  readonly auth: AuthView;
  /** Resolves once this member has applied everything the leader had committed when it was called. */
  catchUp(deadlineMs: number): Promise<void>;
}

export class RequestAuth {
  readonly authorizer: Authorizer;
  readonly authenticator: Authenticator;
  /** One principal per client connection (auth.authenticate, or the client certificate). */
  private readonly principals = new WeakMap<Connection<any>, Principal>();

  constructor(
    private readonly replica: AuthReplica,
    hasher: PasswordHasher,
    private readonly clientCertAuth: boolean,
    /** The deadline of a catch-up started now. */
    private readonly deadline: () => number,
  ) {
    this.authorizer = new Authorizer(replica.auth);
    this.authenticator = new Authenticator(replica.auth, hasher);
  }

  /** Logs the connection in as `principal` (auth.authenticate). */
  login(connection: Connection<any>, principal: Principal): void {
    this.principals.set(connection, principal);
  }

  /**
   * Checks that the request's user may propose `command` against the auth
   * state as it is now, and returns what the entry carries (null: refused,
   * to be confirmed by checkedAfterCatchUp): that user (the owner of a
   * session it opens) and the auth revision of the check, which the state
   * machine compares on apply (auth-revision.ts). `check` replaces the
   * command's own check (a transaction's keys, a lease's keys).
   */
  checkedNow(context: RequestContext, command: Command, check?: (user: string | null) => void): EntryPrincipal | null {
    const user = this.userOf(context);
    const authRevision = this.replica.auth.revision;
    try {
      if (check === undefined) checkCommand(this.authorizer, user, command);
      else check(user);
    } catch (error) {
      if (error instanceof AuthenticationFailedError || error instanceof PermissionDeniedError) return null;
      throw error;
    }
    return { user, authRevision };
  }

  /**
   * After checkedNow refused: catch up (ReadIndex) and check again; throws
   * the refusal if it stands.
   */
  async checkedAfterCatchUp(context: RequestContext, command: Command, check?: (user: string | null) => void): Promise<EntryPrincipal> {
    await this.replica.catchUp(this.deadline());
    const user = this.userOf(context);
    const authRevision = this.replica.auth.revision;
    if (check === undefined) checkCommand(this.authorizer, user, command);
    else check(user);
    return { user, authRevision };
  }

  /** checkedNow, else checkedAfterCatchUp. */
  async checked(context: RequestContext, command: Command, check?: (user: string | null) => void): Promise<EntryPrincipal> {
    return this.checkedNow(context, command, check) ?? (await this.checkedAfterCatchUp(context, command, check));
  }

  /**
   * The user a client connection acts as, or null. A password login that a
   * later change made stale (user deleted, password changed) is dropped here;
   * with --client-cert-auth a connection without a login acts as its
   * certificate's CN.
   */
  userOf(context: RequestContext): string | null {
    if (context.forwarded) return context.forwardedUser ?? null;
    const connection = context.connection;
    if (connection === undefined) return null;
    let principal = this.principals.get(connection);
    if (principal !== undefined && !this.authenticator.isCurrent(principal)) {
      this.principals.delete(connection);
      principal = undefined;
    }
    if (principal === undefined && this.clientCertAuth) {
      const identity = connection.peerIdentity;
      if (identity !== null) {
        try {
          principal = this.authenticator.authenticateCertificate({ subject: identity.commonName === null ? null : { CN: identity.commonName } });
          this.principals.set(connection, principal);
        } catch {
          principal = undefined;
        }
      }
    }
    return principal?.user ?? null;
  }

  /**
   * An auth check refused this request (`error`). The refusal stands only once
   * it was judged on auth state at least as new as the leader's when the
   * request came: this member's state may lag (a user added, a role granted,
   * auth disabled: committed and acknowledged, not applied here yet), so it
   * catches up (ReadIndex) and runs `check` once more, which throws if the
   * refusal stands. A check that passes needs no catch-up and stays on the
   * synchronous fast path: a forwarded request is checked again by the
   * leader, and a local (stale) read is stale by choice. Errors other than
   * auth refusals are rethrown as they are.
   */
  async confirmRefusal(error: unknown, context: RequestContext, check: (user: string | null) => void): Promise<void> {
    if (!(error instanceof AuthenticationFailedError || error instanceof PermissionDeniedError)) throw error;
    await this.replica.catchUp(this.deadline());
    check(this.userOf(context));
  }

  /** `check` for this request's user; a refusal is confirmed after catching up (confirmRefusal). */
  async allowed(context: RequestContext, check: (user: string | null) => void): Promise<void> {
    try {
      check(this.userOf(context));
    } catch (error) {
      await this.confirmRefusal(error, context, check);
    }
  }

  /** The request as forwarded to the leader: with the user it acts as (see FORWARDED_USER_FIELD). */
  carry<R>(request: R, context: RequestContext): R {
    return { ...request, [FORWARDED_USER_FIELD]: this.userOf(context) ?? '' };
  }
}
