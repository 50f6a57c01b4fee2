/**
 * Concord's key-value state machine: byte keys and values with versions and
 * revisions, compare-and-set, ordered scans, exactly-once writes through
 * client sessions (Raft thesis §6.3), replicated users and roles (etcd's auth
 * model), and streamed snapshots. Pure: no Node
 * modules, clocks or randomness (see docs/kv.md).
 */
export { KvStateMachine, type KvRestore } from './state-machine.js';
export { KvSnapshot } from './snapshot-writer.js';
export {
  CompareOp,
  CompareTarget,
  TxnOpType,
  isReadOnlyTxn,
  type TxnBody,
  type TxnCommand,
  type TxnCompare,
  type TxnDeleteOp,
  type TxnGetOp,
  type TxnNestedOp,
  type TxnOp,
  type TxnOpResult,
  type TxnPutOp,
  type TxnResult,
  type TxnScanOp,
  type TxnUpdateOp,
} from './txn-types.js';
export { txnBytesProblem, txnProblem } from './txn.js';
export { TXN_DEPTH_MAX } from './txn-codec.js';
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
export { bytesEqual, compareBytes, prefixEnd } from './bytes.js';
export { defaultUserQuotas, savedResultQuotaProblem, sessionQuotaProblem, UserUsageLedger, type UserQuotas, type UserUsage } from './auth-quotas.js';
export {
  AUTH_NAME_BYTES_MAX,
  AUTH_STATE_BYTES_MAX,
  AuthCommandKind,
  PASSWORD_HASH_BYTES_MAX,
  PASSWORD_PARAMS_MAX,
  PASSWORD_SALT_BYTES_MAX,
  PermissionAccess,
  ROLE_PERMISSIONS_MAX,
  ROOT_ROLE,
  ROOT_USER,
  USER_ROLES_MAX,
  isAuthCommand,
  prefixPermissionRange,
  type AuthCommand,
  type AuthDisableCommand,
  type AuthEnableCommand,
  type AuthStatus,
  type AuthView,
  type PasswordRecord,
  type Permission,
  type PermissionRange,
  type RoleAddCommand,
  type RoleDeleteCommand,
  type RoleGrantPermissionCommand,
  type RoleRecord,
  type RoleRevokePermissionCommand,
  type UserAddCommand,
  type UserChangePasswordCommand,
  type UserDeleteCommand,
  type UserGrantRoleCommand,
  type UserInfo,
  type UserRecord,
  type UserRevokeRoleCommand,
} from './auth-types.js';
export { isFromKey, roleNameProblem, userNameProblem } from './auth-validate.js';
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
  AuthLimitError,
  AuthenticationFailedError,
  PermissionDeniedError,
  PermissionNotGrantedError,
  RoleExistsError,
  RoleNotFoundError,
  RoleNotGrantedError,
  RootUserRequiredError,
  UserExistsError,
  UserNotFoundError,
  UserQuotaExceededError,
  CorruptSnapshotError,
  EmptyKeyError,
  InvalidCommandError,
  InvalidScanError,
  TxnTooLargeError,
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
