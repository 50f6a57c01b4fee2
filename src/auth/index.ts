/**
 * Authentication and authorization for Concord (issue 12): scrypt password
 * records, the Authenticator (password or client-certificate CN -> principal),
 * the Authorizer (may this principal read/write this key or range, or
 * administer?) over the replicated users and roles of src/kv, and per-user quotas.
 */
export { Authenticator, AuthMethod, commonNameOf, type CertificateSubject, type Principal } from './authenticator.js';
export {
  AUTHORIZER_CACHE_USERS_MAX,
  Authorizer,
  Operation,
  authorize,
  covers,
  intervalOf,
  isSuperuser,
  mergeIntervals,
  scanRange,
  type Target,
} from './authorize.js';
export {
  DEFAULT_HASH_CONCURRENCY_MAX,
  DEFAULT_HASH_QUEUE_MAX,
  PASSWORD_BYTES_MAX,
  PasswordHasher,
  SALT_BYTES,
  SCRYPT_ALGORITHM,
  SCRYPT_MEMORY_BYTES_MAX,
  defaultScryptParams,
  scryptParamsOf,
  type PasswordHasherOptions,
  type ScryptParams,
} from './password.js';
export { AuthOverloadedError, InvalidPasswordError } from './errors.js';
export {
  AuthenticationFailedError,
  PermissionDeniedError,
  UserQuotaExceededError,
} from '../kv/index.js';
export { buildUserCommand, checkAuthQuery, checkCommand, checkGet, checkScan, checkTxn, type AuthQuery } from './access.js';
export { certificateNamesMember, dnsNamesOf, membersNamedBy, type PeerCertificateNames } from './peer-identity.js';
