/**
 * Concord's key-value state machine: byte keys and values with versions and
 * revisions, compare-and-set, ordered scans, exactly-once writes through
 * client sessions (Raft thesis §6.3), and streamed snapshots. Pure: no Node
 * modules, clocks or randomness (see docs/kv.md).
 */
export { KvStateMachine, type KvRestore } from './state-machine.js';
export { KvSnapshot } from './snapshot-writer.js';
export { defaultKvOptions, resolveKvOptions, type KvOptions } from './options.js';
export { encodeCommand, decodeCommand, COMMAND_FORMAT_VERSION } from './command-codec.js';
export { encodeApplyResult, decodeApplyResult } from './result-codec.js';
export {
  commandProblem,
  keyProblem,
  valueProblem,
  validateCommand,
  validateKey,
  validateValue,
} from './validate.js';
export { compareBytes, prefixEnd } from './bytes.js';
export {
  CommandKind,
  ResultKind,
  okResult,
  type ApplyResult,
  type CloseSessionCommand,
  type Command,
  type CommandEnvelope,
  type DeleteCommand,
  type DeleteResult,
  type ErrorResult,
  type KeepAliveCommand,
  type KvEntry,
  type NoopCommand,
  type OkResult,
  type OpenSessionCommand,
  type PutCommand,
  type ScanPage,
  type ScanRequest,
  type SessionClosedResult,
  type SessionOpenedResult,
  type SessionRef,
  type UpdateCommand,
  type WriteCommand,
  type WriteConditions,
  type WriteResult,
} from './types.js';
export {
  CorruptSnapshotError,
  EmptyKeyError,
  InvalidCommandError,
  InvalidScanError,
  KeyNotFoundError,
  KeyTooLargeError,
  KvError,
  KvErrorCode,
  SessionExpiredError,
  SessionResultsFullError,
  SessionsFullError,
  StaleSequenceError,
  ValueTooLargeError,
  VersionMismatchError,
  isKvErrorCode,
  kvErrorFromWire,
  kvErrorToWire,
  type KvErrorDetailValue,
  type KvErrorDetails,
  type KvErrorWire,
} from './errors.js';
