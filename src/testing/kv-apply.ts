/**
 * Applying a command to a state machine the way a member does: encoded as the
 * leader encodes a proposal (`encodeCommand`, stamped with the leader's time),
 * then applied as the committed entry's bytes. Tests use it instead of a
 * second, object-based apply path in the product, so every test that builds
 * state also exercises the codec and the decoded-entry checks.
 */
import { encodeCommand, type ApplyResult, type Command, type EntryPrincipal, type KvStateMachine } from '../kv/index.js';

/**
 * Applies `command` as the entry at `index` (appliedIndex + 1), stamped with `leaderTimeMs`.
 * Without `principal` the entry is anonymous and was checked at the state machine's current
 * auth revision (a test's command is never stale unless it says so); with one, it carries it
 * as the leader's proposals do.
 */
export function applyCommand(sm: KvStateMachine, index: number, command: Command, leaderTimeMs: number, principal?: EntryPrincipal): ApplyResult {
  return sm.apply(index, encodeCommand(command, leaderTimeMs, 0, principal ?? { user: null, authRevision: sm.auth.revision }));
}
