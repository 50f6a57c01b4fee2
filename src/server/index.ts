/**
 * The Concord server: one cluster member. The CLI's `concord server` uses
 * `loadServerConfig` + `createLogger` + `startServer` + `shutdownOnSignals`.
 * Operations guide: docs/operations.md.
 */
export {
  loadServerConfig,
  validateServerConfig,
  parseInitialCluster,
  formatInitialCluster,
  serverConfigOptions,
  parseServerFlags,
  configFileEnv,
  InvalidConfigError,
  InitialClusterState,
  LogFormat,
  LogLevel,
  type ServerConfig,
  type ConfigOption,
  type LoadServerConfigInput,
} from './config.js';
export { createLogger, type Logger, type CreateLoggerOptions } from './logger.js';
export { serverVersion } from './version.js';
export { startServer, type RunningServer, type StartServerOptions } from './server.js';
export { shutdownOnSignals, type ShutdownOnSignalsOptions } from './signals.js';
export { readMemberFile, memberFileName, type MemberFile } from './member-file.js';
export { ServerExitCode, isFatalStorageFailure } from './exit-codes.js';
export {
  BackupFileWriter,
  CorruptBackupError,
  checkBackupFile,
  hex as backupChecksumHex,
  type BackupHeader,
  type CheckedBackup,
} from './backup-file.js';
