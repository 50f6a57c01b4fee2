/**
 * The auth revision check at apply time (issue 12; etcd's ErrAuthOldRevision).
 *
 * A member authorizes a request against its applied auth state at revision R
 * and proposes it carrying R (command format 2, EntryPrincipal). Entries
 * apply in log order, so when the command applies, every auth change that
 * committed before it has been applied: if the revision is now above R, a
 * change (a revoked permission, a deleted user, auth being enabled) may have
 * taken away the right the request was checked for, and the command is
 * refused with AuthOldRevisionError, changing nothing. The leader checks it
 * again against the new state and proposes it again (kv-service.ts). So a
 * revoke that commits first always wins, the same on every member.
 *
 * While auth is disabled nothing needs a right, so nothing is refused. Noop
 * entries carry only the leader's time and need no right either, nor do the
 * lease expiries the leader proposes itself (lease-expirer.ts): they act for
 * no user.
 */
import { AuthOldRevisionError } from './errors.js';
import type { AuthStatus } from './auth-types.js';
import { LeaseCommandKind } from './lease-types.js';
import { CommandKind } from './types.js';

/** The refusal for a command of `kind` checked at `authRevision`, or null when it may apply. */
export function authRevisionProblem(auth: AuthStatus, kind: string, authRevision: number): AuthOldRevisionError | null {
  if (!auth.enabled || kind === CommandKind.Noop || kind === LeaseCommandKind.LeaseExpire || authRevision >= auth.revision) return null;
  return new AuthOldRevisionError({ authRevision, currentAuthRevision: auth.revision });
}
