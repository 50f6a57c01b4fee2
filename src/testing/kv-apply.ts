/**
 * Applying a command to a state machine the way a member does: encoded as the
 * leader encodes a proposal (`encodeCommand`, stamped with the leader's time),
 * then applied as the committed entry's bytes. Tests use it instead of a
 * second, object-based apply path in the product, so every test that builds
 * state also exercises the codec and the decoded-entry checks.
 */
import { encodeCommand, type ApplyResult, type Command, type KvStateMachine } from '../kv/index.js';

/** Applies `command` as the entry at `index` (appliedIndex + 1), stamped with `leaderTimeMs`. */
export function applyCommand(sm: KvStateMachine, index: number, command: Command, leaderTimeMs: number): ApplyResult {
  return sm.apply(index, encodeCommand(command, leaderTimeMs));
}
