/**
 * Server configuration: one table of options, read from command-line flags,
 * environment variables and a JSON config file, with precedence
 * flags > env > file > defaults.
 *
 * A member's name and the initial cluster are persisted in its data
 * directory on first start (`member.json`, see membership-file.ts), so a
 * restarted member needs only `--data-dir` and its URLs.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConcordError, ConcordErrorCode } from '../common/errors.js';
import { parseAddress } from '../net/index.js';
import { defaultKeyBytesMax, defaultValueBytesMax } from '../protocol/index.js';
import { AUTH_NAME_BYTES_MAX, defaultKvOptions, savedResultBytesBound, SESSION_FIXED_BYTES } from '../kv/index.js';
import { readMemberFile } from './member-file.js';

export const LogFormat = { Auto: 'auto', Pretty: 'pretty', Json: 'json' } as const;
export type LogFormat = (typeof LogFormat)[keyof typeof LogFormat];

/** How a member with an empty data directory starts (etcd's --initial-cluster-state). */
export const InitialClusterState = {
  /** A new cluster: bootstrap the initial membership, unless a peer shows the cluster already ran. */
  New: 'new',
  /** The cluster exists: never bootstrap (an empty data directory is refused; see docs/operations.md). */
  Existing: 'existing',
} as const;
export type InitialClusterState = (typeof InitialClusterState)[keyof typeof InitialClusterState];

export const LogLevel = { Trace: 'trace', Debug: 'debug', Info: 'info', Warn: 'warn', Error: 'error', Fatal: 'fatal', Silent: 'silent' } as const;
export type LogLevel = (typeof LogLevel)[keyof typeof LogLevel];

export interface ServerConfig {
  /** This member's stable name, e.g. "n1". */
  readonly name: string;
  /** Directory for the write-ahead log, snapshots and member.json. Locked while the server runs. */
  readonly dataDir: string;
  /** Where clients connect (net address: tcp://host:port, unix:///path...). */
  readonly clientUrl: string;
  /** Where the other members connect for Raft traffic and forwarded requests. */
  readonly peerUrl: string;
  /** Every initial voter: name -> peer URL (must include this member). */
  readonly initialCluster: Readonly<Record<string, string>>;
  /** Only `new` bootstraps an empty data directory (and only when no peer shows the cluster already ran). */
  readonly initialClusterState: InitialClusterState;
  /** Leader heartbeat period, and the clock's tick. */
  readonly heartbeatIntervalMs: number;
  /** Base election timeout (randomized in [t, 2t) by the core). Must be >= 2 heartbeats. */
  readonly electionTimeoutMs: number;
  /** Take a snapshot and compact the log after this many applied entries. */
  readonly snapshotEveryEntries: number;
  /**
   * A leader postpones its next snapshot (and so the compaction) while a
   * follower is being caught up, until the log since the last snapshot holds
   * snapshotEveryEntries + this many entries (etcd's snapshot-catchup-entries).
   */
  readonly snapshotCatchUpEntries: number;
  readonly keyBytesMax: number;
  readonly valueBytesMax: number;
  /** Server-side deadline for a request (proposal wait, forwarding, read index). */
  readonly requestTimeoutMs: number;
  /** Bound on proposals and reads waiting for an answer on this member. */
  readonly pendingRequestsMax: number;
  /** Max time graceful shutdown waits for in-flight requests and leadership transfer. */
  readonly shutdownTimeoutMs: number;
  /** etcd's --auto-compaction-mode: 'periodic' (retention is a duration) or 'revision' (a count). */
  readonly autoCompactionMode?: string;
  /** etcd's --auto-compaction-retention: '0' is off; periodic: '1h', '30m', '90s' or hours; revision: revisions kept. */
  readonly autoCompactionRetention?: string;
  /** A caught-up watcher trailing the head by more revisions than this is cancelled (slow consumer; docs/watch.md). */
  readonly watchLagRevisionsMax?: number;
  /** Period of progress notifications to idle watchers that asked for them. */
  readonly watchProgressIntervalMs?: number;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  /** Serve Prometheus metrics at <metricsUrl>/metrics (e.g. http://127.0.0.1:9101); off when absent. */
  readonly metricsUrl?: string;
  /** Serve the web dashboard at <metricsUrl>/ui (and its API at /api/); needs metricsUrl. */
  readonly dashboard?: boolean;
  /** Serve the Redis protocol (RESP2/3) at tcp://host:port, unix:///path or tls://host:port (the client TLS options); off when absent. */
  readonly respUrl?: string;
  /** `emulated`: answer CLUSTER SLOTS/NODES... as one shard led by the Raft leader, MOVED writes to it (docs/resp.md); `off` (default): followers forward. */
  readonly respCluster?: string;
  /** Client URL TLS (tls://): this member's certificate and key (PEM files). */
  readonly certFile?: string;
  readonly keyFile?: string;
  /** CA bundle that signs client certificates (with clientCertAuth). */
  readonly trustedCaFile?: string;
  /** Demand a client certificate signed by trustedCaFile; its CN is the user (etcd's --client-cert-auth). */
  readonly clientCertAuth?: boolean;
  /**
   * Mutual TLS between members (all three or none; docs/security.md): this
   * member's certificate (it must name the member: CN or a DNS SAN equal to
   * `name`), its key, and the CA(s) that sign every member's certificate. With
   * them every peer URL must be tls://.
   */
  readonly peerCertFile?: string;
  readonly peerKeyFile?: string;
  readonly peerTrustedCaFile?: string;
  /**
   * Bounds of the replicated session table (src/kv/session-quotas.ts). Like
   * keyBytesMax they decide applied results, so every member must use the
   * same values.
   */
  readonly sessionsMax: number;
  readonly sessionsPerUserMax: number;
  readonly sessionResultBytesPerUserMax: number;
  readonly sessionTableBytesMax: number;
  /** Bounds on inbound connections (src/net/inbound-limits.ts); connectionsMax absent: from the fd limit. */
  readonly connectionsMax?: number;
  /** Client connections only: no traffic either way for this long closes the connection. */
  readonly idleTimeoutMs: number;
  readonly handshakeTimeoutMs: number;
  readonly receiveRateMinBytesPerSec: number;
  readonly receiveRateGraceMs: number;
  /** Bytes of partial inbound frames this member buffers across all its connections. */
  readonly partialFrameBytesMax: number;
}

/** --resp-cluster's values. */
export const respClusterModes: readonly string[] = ['off', 'emulated'];

/** A configuration problem the user must fix; the message says which setting and why. */
export class InvalidConfigError extends ConcordError {
  constructor(message: string) {
    super(ConcordErrorCode.InvalidConfig, message);
  }
}

type OptionKind = 'string' | 'boolean' | 'integer' | 'cluster' | 'clusterState' | 'logLevel' | 'logFormat';

export interface ConfigOption {
  readonly key: keyof ServerConfig;
  /** Long flag, e.g. "--data-dir". */
  readonly flag: string;
  /** Environment variable, e.g. "CONCORD_DATA_DIR". */
  readonly env: string;
  readonly kind: OptionKind;
  readonly description: string;
  /** undefined: required (or taken from the data directory). */
  readonly defaultValue?: string | number;
}

/** Every server option. The CLI builds its `concord server` flags from this table. */
export const serverConfigOptions: readonly ConfigOption[] = [
  { key: 'name', flag: '--name', env: 'CONCORD_NAME', kind: 'string', description: 'member name (stored in the data dir on first start)' },
  { key: 'dataDir', flag: '--data-dir', env: 'CONCORD_DATA_DIR', kind: 'string', description: 'data directory (log, snapshots, membership)' },
  { key: 'clientUrl', flag: '--client-url', env: 'CONCORD_CLIENT_URL', kind: 'string', description: 'address clients connect to, e.g. tcp://127.0.0.1:7001' },
  { key: 'peerUrl', flag: '--peer-url', env: 'CONCORD_PEER_URL', kind: 'string', description: 'address other members connect to, e.g. tcp://127.0.0.1:7101' },
  { key: 'initialCluster', flag: '--initial-cluster', env: 'CONCORD_INITIAL_CLUSTER', kind: 'cluster', description: 'initial members: n1=tcp://h:p,n2=tcp://h:p,... (stored in the data dir on first start)' },
  {
    key: 'initialClusterState',
    flag: '--initial-cluster-state',
    env: 'CONCORD_INITIAL_CLUSTER_STATE',
    kind: 'clusterState',
    description: 'new|existing: only new bootstraps an empty data dir (refused when a peer shows the cluster already ran)',
    defaultValue: 'new',
  },
  { key: 'heartbeatIntervalMs', flag: '--heartbeat-interval-ms', env: 'CONCORD_HEARTBEAT_INTERVAL_MS', kind: 'integer', description: 'leader heartbeat period and clock tick', defaultValue: 100 },
  { key: 'electionTimeoutMs', flag: '--election-timeout-ms', env: 'CONCORD_ELECTION_TIMEOUT_MS', kind: 'integer', description: 'election timeout base (randomized up to 2x)', defaultValue: 1000 },
  { key: 'snapshotEveryEntries', flag: '--snapshot-every-entries', env: 'CONCORD_SNAPSHOT_EVERY_ENTRIES', kind: 'integer', description: 'snapshot and compact the log after this many applied entries', defaultValue: 10_000 },
  { key: 'snapshotCatchUpEntries', flag: '--snapshot-catchup-entries', env: 'CONCORD_SNAPSHOT_CATCHUP_ENTRIES', kind: 'integer', description: 'while a follower catches up, a leader compacts only past this many entries beyond --snapshot-every-entries', defaultValue: 5_000 },
  { key: 'keyBytesMax', flag: '--key-bytes-max', env: 'CONCORD_KEY_BYTES_MAX', kind: 'integer', description: 'largest key accepted', defaultValue: defaultKeyBytesMax },
  { key: 'valueBytesMax', flag: '--value-bytes-max', env: 'CONCORD_VALUE_BYTES_MAX', kind: 'integer', description: 'largest value accepted', defaultValue: defaultValueBytesMax },
  { key: 'requestTimeoutMs', flag: '--request-timeout-ms', env: 'CONCORD_REQUEST_TIMEOUT_MS', kind: 'integer', description: 'server-side deadline per request', defaultValue: 5_000 },
  { key: 'pendingRequestsMax', flag: '--pending-requests-max', env: 'CONCORD_PENDING_REQUESTS_MAX', kind: 'integer', description: 'bound on requests waiting for an answer', defaultValue: 100_000 },
  { key: 'autoCompactionMode', flag: '--auto-compaction-mode', env: 'CONCORD_AUTO_COMPACTION_MODE', kind: 'string', description: 'periodic|revision: what --auto-compaction-retention counts', defaultValue: 'periodic' },
  {
    key: 'autoCompactionRetention',
    flag: '--auto-compaction-retention',
    env: 'CONCORD_AUTO_COMPACTION_RETENTION',
    kind: 'string',
    description: 'history kept for watches: 0 = off; periodic: 1h, 30m, 90s (a bare number is hours); revision: revisions kept',
    defaultValue: '0',
  },
  { key: 'watchLagRevisionsMax', flag: '--watch-lag-revisions-max', env: 'CONCORD_WATCH_LAG_REVISIONS_MAX', kind: 'integer', description: 'cancel a watcher whose consumer trails the head by more revisions (slow consumer)', defaultValue: 10_000 },
  { key: 'watchProgressIntervalMs', flag: '--watch-progress-interval-ms', env: 'CONCORD_WATCH_PROGRESS_INTERVAL_MS', kind: 'integer', description: 'progress notifications to idle watchers that asked for them, this often', defaultValue: 10_000 },
  { key: 'shutdownTimeoutMs', flag: '--shutdown-timeout-ms', env: 'CONCORD_SHUTDOWN_TIMEOUT_MS', kind: 'integer', description: 'how long graceful shutdown waits', defaultValue: 5_000 },
  { key: 'logLevel', flag: '--log-level', env: 'CONCORD_LOG_LEVEL', kind: 'logLevel', description: 'trace|debug|info|warn|error|fatal|silent', defaultValue: 'info' },
  { key: 'respUrl', flag: '--resp-url', env: 'CONCORD_RESP_URL', kind: 'string', description: 'serve the Redis protocol at tcp://host:port, unix:///path or tls://host:port (tls uses --cert-file/--key-file; default: off)' },
  { key: 'respCluster', flag: '--resp-cluster', env: 'CONCORD_RESP_CLUSTER', kind: 'string', description: 'off|emulated: emulated answers CLUSTER SLOTS/NODES/SHARDS as one shard led by the leader, and a follower answers MOVED instead of forwarding (default: off)' },
  { key: 'metricsUrl', flag: '--metrics-url', env: 'CONCORD_METRICS_URL', kind: 'string', description: 'serve Prometheus metrics at <url>/metrics, e.g. http://127.0.0.1:9101; https:// uses --cert-file/--key-file (default: off)' },
  { key: 'dashboard', flag: '--dashboard', env: 'CONCORD_DASHBOARD', kind: 'boolean', description: 'serve the web dashboard at <metrics-url>/ui (bound where --metrics-url says; needs it)' },
  { key: 'certFile', flag: '--cert-file', env: 'CONCORD_CERT_FILE', kind: 'string', description: 'PEM certificate for the client URL (needs a tls:// client URL)' },
  { key: 'keyFile', flag: '--key-file', env: 'CONCORD_KEY_FILE', kind: 'string', description: 'PEM private key for the client URL' },
  { key: 'trustedCaFile', flag: '--trusted-ca-file', env: 'CONCORD_TRUSTED_CA_FILE', kind: 'string', description: 'PEM CA bundle that signs client certificates' },
  { key: 'clientCertAuth', flag: '--client-cert-auth', env: 'CONCORD_CLIENT_CERT_AUTH', kind: 'boolean', description: 'require a client certificate signed by --trusted-ca-file; its CN is the user' },
  { key: 'logFormat', flag: '--log-format', env: 'CONCORD_LOG_FORMAT', kind: 'logFormat', description: 'auto (pretty on a terminal, JSON otherwise)|pretty|json', defaultValue: 'auto' },
  { key: 'peerCertFile', flag: '--peer-cert-file', env: 'CONCORD_PEER_CERT_FILE', kind: 'string', description: 'PEM certificate for mutual TLS between members (CN or a DNS SAN = the member name)' },
  { key: 'peerKeyFile', flag: '--peer-key-file', env: 'CONCORD_PEER_KEY_FILE', kind: 'string', description: 'PEM private key of --peer-cert-file' },
  { key: 'peerTrustedCaFile', flag: '--peer-trusted-ca-file', env: 'CONCORD_PEER_TRUSTED_CA_FILE', kind: 'string', description: 'PEM CA(s) that sign every member certificate; peer URLs must be tls://' },
  // Session bounds (docs/security.md "Quotas"): the same on every member.
  { key: 'sessionsMax', flag: '--sessions-max', env: 'CONCORD_SESSIONS_MAX', kind: 'integer', description: 'live client sessions in the cluster', defaultValue: defaultKvOptions.sessionsMax },
  { key: 'sessionsPerUserMax', flag: '--sessions-per-user-max', env: 'CONCORD_SESSIONS_PER_USER_MAX', kind: 'integer', description: 'live sessions of one user (all anonymous clients together while auth is disabled)', defaultValue: defaultKvOptions.sessionsPerUserMax },
  {
    key: 'sessionResultBytesPerUserMax',
    flag: '--session-result-bytes-per-user-max',
    env: 'CONCORD_SESSION_RESULT_BYTES_PER_USER_MAX',
    kind: 'integer',
    description: 'bytes of unacknowledged saved results one user\'s sessions hold',
    defaultValue: defaultKvOptions.sessionResultBytesPerUserMax,
  },
  { key: 'sessionTableBytesMax', flag: '--session-table-bytes-max', env: 'CONCORD_SESSION_TABLE_BYTES_MAX', kind: 'integer', description: 'byte budget of the whole session table (sessions and saved results)', defaultValue: defaultKvOptions.sessionTableBytesMax },
  // Connection bounds (docs/security.md "Connection bounds").
  { key: 'connectionsMax', flag: '--connections-max', env: 'CONCORD_CONNECTIONS_MAX', kind: 'integer', description: 'connections per listener (default: half the fd soft limit less 256 for storage)' },
  { key: 'idleTimeoutMs', flag: '--idle-timeout-ms', env: 'CONCORD_IDLE_TIMEOUT_MS', kind: 'integer', description: 'close a client connection with no traffic for this long', defaultValue: 300_000 },
  { key: 'handshakeTimeoutMs', flag: '--handshake-timeout-ms', env: 'CONCORD_HANDSHAKE_TIMEOUT_MS', kind: 'integer', description: 'TLS and a first frame within this long of accepting', defaultValue: 10_000 },
  { key: 'receiveRateMinBytesPerSec', flag: '--receive-rate-min-bytes-per-sec', env: 'CONCORD_RECEIVE_RATE_MIN_BYTES_PER_SEC', kind: 'integer', description: 'a frame in progress slower than this (after the grace) is dropped with its connection', defaultValue: 8 * 1024 },
  { key: 'receiveRateGraceMs', flag: '--receive-rate-grace-ms', env: 'CONCORD_RECEIVE_RATE_GRACE_MS', kind: 'integer', description: 'how long a frame may take before the minimum rate applies', defaultValue: 10_000 },
  { key: 'partialFrameBytesMax', flag: '--partial-frame-bytes-max', env: 'CONCORD_PARTIAL_FRAME_BYTES_MAX', kind: 'integer', description: 'bytes of partial inbound frames buffered across all connections', defaultValue: 256 * 1024 * 1024 },
];

/** The env var naming a JSON config file (the `--config` flag wins over it). */
export const configFileEnv = 'CONCORD_CONFIG';

/** Raw settings as strings (flags, env) or JSON values (file), keyed by ServerConfig field. */
export type RawSettings = Partial<Record<keyof ServerConfig, unknown>>;

export interface LoadServerConfigInput {
  /** Values from command-line flags, keyed by ServerConfig field (commander's camelCase keys match). */
  readonly flags?: RawSettings & { config?: string };
  /** Environment (default: process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** Parses "n1=tcp://h:1,n2=tcp://h:2" into { n1: 'tcp://h:1', n2: 'tcp://h:2' }. */
export function parseInitialCluster(text: string): Record<string, string> {
  const cluster: Record<string, string> = {};
  for (const part of text.split(',').map((p) => p.trim()).filter((p) => p.length > 0)) {
    const eq = part.indexOf('=');
    if (eq <= 0 || eq === part.length - 1) throw new InvalidConfigError(`initial cluster entry "${part}" is not name=url`);
    const name = part.slice(0, eq).trim();
    if (name in cluster) throw new InvalidConfigError(`initial cluster names member "${name}" twice`);
    cluster[name] = part.slice(eq + 1).trim();
  }
  return cluster;
}

export function formatInitialCluster(cluster: Readonly<Record<string, string>>): string {
  return Object.entries(cluster).map(([name, url]) => `${name}=${url}`).join(',');
}

function coerce(option: ConfigOption, value: unknown, source: string): unknown {
  const where = `${option.key} (from ${source})`;
  switch (option.kind) {
    case 'string': {
      if (typeof value !== 'string' || value.length === 0) throw new InvalidConfigError(`${where} must be a non-empty string`);
      return value;
    }
    case 'boolean': {
      if (value === true || value === 'true' || value === '1') return true;
      if (value === false || value === 'false' || value === '0') return false;
      throw new InvalidConfigError(`${where} must be true or false, got ${JSON.stringify(value)}`);
    }
    case 'integer': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
      if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidConfigError(`${where} must be a positive integer, got ${JSON.stringify(value)}`);
      return n;
    }
    case 'cluster': {
      if (typeof value === 'string') return parseInitialCluster(value);
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
        const out: Record<string, string> = {};
        for (const [k, v] of Object.entries(value)) {
          if (typeof v !== 'string' || v.length === 0) throw new InvalidConfigError(`${where}: member "${k}" needs a peer URL string`);
          out[k] = v;
        }
        return out;
      }
      throw new InvalidConfigError(`${where} must be "name=url,..." or an object of name -> url`);
    }
    case 'clusterState': {
      if (typeof value !== 'string' || !(Object.values(InitialClusterState) as string[]).includes(value)) {
        throw new InvalidConfigError(`${where} must be one of ${Object.values(InitialClusterState).join('|')}`);
      }
      return value;
    }
    case 'logLevel': {
      if (typeof value !== 'string' || !(Object.values(LogLevel) as string[]).includes(value)) {
        throw new InvalidConfigError(`${where} must be one of ${Object.values(LogLevel).join('|')}`);
      }
      return value;
    }
    case 'logFormat': {
      if (typeof value !== 'string' || !(Object.values(LogFormat) as string[]).includes(value)) {
        throw new InvalidConfigError(`${where} must be one of ${Object.values(LogFormat).join('|')}`);
      }
      return value;
    }
  }
}

function readConfigFile(path: string): RawSettings {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new InvalidConfigError(`cannot read config file ${path}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new InvalidConfigError(`config file ${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new InvalidConfigError(`config file ${path} must hold a JSON object`);
  }
  const known = new Set<string>(serverConfigOptions.map((o) => o.key));
  for (const key of Object.keys(parsed)) {
    if (!known.has(key)) throw new InvalidConfigError(`config file ${path}: unknown setting "${key}" (known: ${[...known].join(', ')})`);
  }
  return parsed as RawSettings;
}

/**
 * The server's flags (the option table's, and --config) from `args` (default: the process's), for
 * the entries that run a member without the CLI's commander: src/server/main.ts, and
 * test/faults/member.ts, which adds string flags of its own (`extraFlags`, returned in `extra`).
 * Unknown flags and positionals throw.
 */
export function parseServerFlags(
  args?: string[],
  extraFlags: readonly string[] = [],
): { flags: RawSettings & { config?: string }; extra: Record<string, string | undefined> } {
  const options: Record<string, { type: 'string' }> = { config: { type: 'string' } };
  for (const option of serverConfigOptions) options[option.flag.slice(2)] = { type: 'string' };
  for (const name of extraFlags) options[name] = { type: 'string' };
  const { values } = parseArgs({ ...(args === undefined ? {} : { args }), options, strict: true, allowPositionals: false });
  const flags: RawSettings & { config?: string } = {};
  for (const option of serverConfigOptions) {
    const value = values[option.flag.slice(2)];
    if (typeof value === 'string') flags[option.key] = value;
  }
  if (typeof values['config'] === 'string') flags.config = values['config'];
  const extra: Record<string, string | undefined> = {};
  for (const name of extraFlags) extra[name] = typeof values[name] === 'string' ? (values[name] as string) : undefined;
  return { flags, extra };
}

/**
 * Resolves the server configuration: flags > env > config file > defaults,
 * then fills `name` and `initialCluster` from the data directory's
 * member.json when the member was started before. Throws InvalidConfigError
 * naming the setting on any problem.
 */
export function loadServerConfig(input: LoadServerConfigInput = {}): ServerConfig {
  const flags = input.flags ?? {};
  const env = input.env ?? process.env;
  const configPath = flags.config ?? env[configFileEnv];
  const file: RawSettings = configPath !== undefined && configPath !== '' ? readConfigFile(configPath) : {};

  const resolved: Record<string, unknown> = {};
  for (const option of serverConfigOptions) {
    const fromFlag = flags[option.key];
    const fromEnv = env[option.env];
    const fromFile = file[option.key];
    if (fromFlag !== undefined && fromFlag !== null) resolved[option.key] = coerce(option, fromFlag, `flag ${option.flag}`);
    else if (fromEnv !== undefined && fromEnv !== '') resolved[option.key] = coerce(option, fromEnv, `env ${option.env}`);
    else if (fromFile !== undefined) resolved[option.key] = coerce(option, fromFile, `config file ${configPath}`);
    else if (option.defaultValue !== undefined) resolved[option.key] = option.defaultValue;
  }

  const dataDir = resolved['dataDir'];
  if (typeof dataDir !== 'string') throw new InvalidConfigError('dataDir is required (--data-dir or CONCORD_DATA_DIR)');
  const stored = readMemberFile(dataDir);
  if (stored !== null) {
    if (resolved['name'] !== undefined && resolved['name'] !== stored.name) {
      throw new InvalidConfigError(`data dir ${dataDir} belongs to member "${stored.name}", but the name given is "${String(resolved['name'])}"`);
    }
    resolved['name'] = stored.name;
    // The persisted membership wins: the initial cluster only matters on first start.
    resolved['initialCluster'] = stored.initialCluster;
  }
  for (const key of ['name', 'clientUrl', 'peerUrl', 'initialCluster'] as const) {
    if (resolved[key] === undefined) {
      const option = serverConfigOptions.find((o) => o.key === key)!;
      throw new InvalidConfigError(`${key} is required (${option.flag} or ${option.env})`);
    }
  }
  const config = resolved as unknown as ServerConfig;
  validateServerConfig(config);
  return config;
}

/** Cross-field checks; throws InvalidConfigError. */
export function validateServerConfig(config: ServerConfig): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(config.name)) {
    throw new InvalidConfigError(`name "${config.name}" must be 1-64 letters, digits, '.', '_' or '-'`);
  }
  const members = Object.keys(config.initialCluster);
  if (members.length === 0) throw new InvalidConfigError('initialCluster is empty');
  if (!(config.name in config.initialCluster)) {
    throw new InvalidConfigError(`initialCluster (${members.join(', ')}) does not include this member "${config.name}"`);
  }
  if (config.electionTimeoutMs < 2 * config.heartbeatIntervalMs) {
    throw new InvalidConfigError(`electionTimeoutMs (${config.electionTimeoutMs}) must be at least twice heartbeatIntervalMs (${config.heartbeatIntervalMs})`);
  }
  if (config.clientUrl === config.peerUrl) throw new InvalidConfigError('clientUrl and peerUrl must differ');
  const urls: [string, string][] = [
    ['clientUrl', config.clientUrl],
    ['peerUrl', config.peerUrl],
    ...Object.entries(config.initialCluster).map(([name, url]): [string, string] => [`initialCluster.${name}`, url]),
  ];
  for (const [setting, url] of urls) {
    try {
      parseAddress(url);
    } catch (error) {
      throw new InvalidConfigError(`${setting}: ${(error as Error).message}`);
    }
  }
  const clientTls = parseAddress(config.clientUrl).transport === 'tls';
  if (clientTls && (config.certFile === undefined || config.keyFile === undefined)) {
    throw new InvalidConfigError(`clientUrl ${config.clientUrl} is tls://: it needs certFile and keyFile (--cert-file, --key-file)`);
  }
  if (!clientTls && (config.certFile !== undefined || config.clientCertAuth === true)) {
    throw new InvalidConfigError(`certFile/clientCertAuth need a tls:// clientUrl (got ${config.clientUrl})`);
  }
  if (config.clientCertAuth === true && config.trustedCaFile === undefined) {
    throw new InvalidConfigError('clientCertAuth needs trustedCaFile (--trusted-ca-file): the CA that signs client certificates');
  }
  validatePeerTls(config);
  validateSessionBounds(config);
  if (config.dashboard === true && config.metricsUrl === undefined) {
    throw new InvalidConfigError('dashboard is served on the metrics listener: it needs metricsUrl (--metrics-url)');
  }
  if (config.respUrl !== undefined) {
    let resp;
    try {
      resp = parseAddress(config.respUrl);
    } catch (error) {
      throw new InvalidConfigError(`respUrl: ${(error as Error).message}`);
    }
    if (resp.transport === 'mem') throw new InvalidConfigError(`respUrl ${config.respUrl}: expected tcp://, unix:// or tls://`);
    if (resp.transport === 'tls' && (config.certFile === undefined || config.keyFile === undefined)) {
      throw new InvalidConfigError(`respUrl ${config.respUrl} is tls://: it needs certFile and keyFile (--cert-file, --key-file)`);
    }
    if (config.respUrl === config.clientUrl || config.respUrl === config.peerUrl) throw new InvalidConfigError('respUrl must differ from clientUrl and peerUrl');
  }
  if (config.respCluster !== undefined && !respClusterModes.includes(config.respCluster)) {
    throw new InvalidConfigError(`respCluster must be one of ${respClusterModes.join('|')}, got "${config.respCluster}"`);
  }
  if (config.respCluster === 'emulated' && config.respUrl === undefined) throw new InvalidConfigError('respCluster emulated needs respUrl (--resp-url)');
  if (config.metricsUrl !== undefined && !/^https?:\/\/[^/]+:\d+\/?$/.test(config.metricsUrl)) {
    throw new InvalidConfigError(`metricsUrl "${config.metricsUrl}" must look like http://127.0.0.1:9101`);
  }
  // https:// serves the metrics listener with the client certificate, as etcd does for https metrics URLs.
  if (config.metricsUrl?.startsWith('https:') === true && (config.certFile === undefined || config.keyFile === undefined)) {
    throw new InvalidConfigError('an https:// metricsUrl is served with certFile and keyFile (--cert-file, --key-file)');
  }
}

/**
 * One user at both of its quotas must leave at least half of the table to the
 * others (so one full user never locks another out), and one result of the
 * largest kind must fit in a user's quota (or no write in a session could
 * ever be saved). Names cost at most AUTH_NAME_BYTES_MAX each.
 */
function validateSessionBounds(config: ServerConfig): void {
  if (2 * config.sessionsPerUserMax > config.sessionsMax) {
    throw new InvalidConfigError(`sessionsPerUserMax (${config.sessionsPerUserMax}) must be at most half of sessionsMax (${config.sessionsMax}): one user must not lock out the others`);
  }
  const resultBound = savedResultBytesBound({ keyBytesMax: config.keyBytesMax });
  if (config.sessionResultBytesPerUserMax < resultBound) {
    throw new InvalidConfigError(`sessionResultBytesPerUserMax (${config.sessionResultBytesPerUserMax}) must hold at least one saved result (${resultBound} bytes with keyBytesMax ${config.keyBytesMax})`);
  }
  const userFootprint = config.sessionsPerUserMax * (SESSION_FIXED_BYTES + AUTH_NAME_BYTES_MAX) + config.sessionResultBytesPerUserMax;
  if (2 * userFootprint > config.sessionTableBytesMax) {
    throw new InvalidConfigError(
      `sessionTableBytesMax (${config.sessionTableBytesMax}) must be at least twice what one user may hold (${userFootprint} bytes: sessionsPerUserMax and sessionResultBytesPerUserMax): one user must not lock out the others`,
    );
  }
}

/** The peer TLS files come all together, and then every peer URL is tls:// (and tls:// needs them). */
function validatePeerTls(config: ServerConfig): void {
  const files = [config.peerCertFile, config.peerKeyFile, config.peerTrustedCaFile];
  const given = files.filter((f) => f !== undefined).length;
  if (given !== 0 && given !== 3) {
    throw new InvalidConfigError('peer TLS needs all of --peer-cert-file, --peer-key-file and --peer-trusted-ca-file');
  }
  const peerUrls: [string, string][] = [['peerUrl', config.peerUrl], ...Object.entries(config.initialCluster).map(([n, u]): [string, string] => [`initialCluster.${n}`, u])];
  for (const [setting, url] of peerUrls) {
    const isTls = url.startsWith('tls://');
    if (given === 3 && !isTls) throw new InvalidConfigError(`${setting} "${url}" must be tls:// when peer TLS files are given`);
    if (given === 0 && isTls) throw new InvalidConfigError(`${setting} "${url}" is tls:// but --peer-cert-file, --peer-key-file and --peer-trusted-ca-file are not set`);
  }
}
