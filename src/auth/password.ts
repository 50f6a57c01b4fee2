/**
 * Password hashing for the replicated users: scrypt from node:crypto, salted,
 * with its parameters recorded next to the hash (so they can be raised later
 * without invalidating stored passwords), verified in constant time.
 *
 * The server hashes BEFORE proposing `user add` / `user passwd`: the log and
 * the state machine only ever see the PasswordRecord, never a password.
 *
 * scrypt runs on libuv's thread pool (4 threads by default), which the WAL's
 * file operations share. A flood of AUTH attempts must neither block the event
 * loop nor take every pool thread from the disk, so at most
 * `hashConcurrencyMax` hashes run at once and at most `hashQueueMax` wait;
 * beyond that a request is refused at once with AuthOverloadedError
 * (retryable, like any Overloaded answer).
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { assert } from '../common/errors.js';
import type { PasswordRecord } from '../kv/index.js';
import { AuthOverloadedError, InvalidPasswordError } from './errors.js';

export const SCRYPT_ALGORITHM = 'scrypt';

export interface ScryptParams {
  /** CPU/memory cost, a power of two. Memory is about 128 * N * r bytes per hash. */
  readonly N: number;
  readonly r: number;
  readonly p: number;
  readonly keyBytes: number;
}

/** OWASP's scrypt floor is N=2^17 with r=8 (128 MiB); 2^15 (32 MiB, ~0.1 s) keeps 2 concurrent hashes modest. */
export const defaultScryptParams: ScryptParams = Object.freeze({ N: 2 ** 15, r: 8, p: 1, keyBytes: 32 });
export const SALT_BYTES = 16;
/** Longer passwords are refused: the work per attempt stays bounded. */
export const PASSWORD_BYTES_MAX = 1024;
/**
 * A stored record asking for more memory than this is not verified (it could
 * only come from a misconfigured or hostile proposer): 256 MiB.
 */
export const SCRYPT_MEMORY_BYTES_MAX = 256 * 1024 * 1024;
const SCRYPT_N_MAX = 2 ** 20;
const SCRYPT_R_MAX = 32;
const SCRYPT_P_MAX = 16;
const SCRYPT_KEY_BYTES_MIN = 16;
const SCRYPT_KEY_BYTES_MAX = 128;

export interface PasswordHasherOptions {
  readonly params?: ScryptParams;
  /** Hashes running at once (default 2: half of libuv's default pool). */
  readonly hashConcurrencyMax?: number;
  /** Hashes waiting for a slot; more are refused with AuthOverloadedError. */
  readonly hashQueueMax?: number;
  /** Cryptographic randomness for salts (injected for tests; the system's by default). */
  readonly randomBytes?: (n: number) => Uint8Array;
}

export const DEFAULT_HASH_CONCURRENCY_MAX = 2;
export const DEFAULT_HASH_QUEUE_MAX = 64;

/** The scrypt parameters of a record, or null when they are missing or out of the accepted bounds. */
export function scryptParamsOf(record: PasswordRecord): ScryptParams | null {
  if (record.algorithm !== SCRYPT_ALGORITHM) return null;
  const { N, r, p, keyBytes } = record.params;
  if (N === undefined || r === undefined || p === undefined || keyBytes === undefined) return null;
  if (N < 2 || N > SCRYPT_N_MAX || (N & (N - 1)) !== 0) return null;
  if (r < 1 || r > SCRYPT_R_MAX || p < 1 || p > SCRYPT_P_MAX) return null;
  if (keyBytes < SCRYPT_KEY_BYTES_MIN || keyBytes > SCRYPT_KEY_BYTES_MAX || keyBytes !== record.hash.length) return null;
  if (memoryBytes({ N, r, p, keyBytes }) > SCRYPT_MEMORY_BYTES_MAX) return null;
  return { N, r, p, keyBytes };
}

function memoryBytes(params: ScryptParams): number {
  return 128 * params.N * params.r * (params.p + 1);
}

function passwordBytes(password: string): Uint8Array {
  if (typeof password !== 'string' || password.length === 0) throw new InvalidPasswordError({ reason: 'the password must not be empty' });
  const bytes = Buffer.from(password, 'utf8');
  if (bytes.length > PASSWORD_BYTES_MAX) throw new InvalidPasswordError({ reason: `the password is longer than ${PASSWORD_BYTES_MAX} bytes` });
  return bytes;
}

export class PasswordHasher {
  readonly params: ScryptParams;
  readonly hashConcurrencyMax: number;
  readonly hashQueueMax: number;
  private readonly random: (n: number) => Uint8Array;
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(options: PasswordHasherOptions = {}) {
    this.params = options.params ?? defaultScryptParams;
    this.hashConcurrencyMax = options.hashConcurrencyMax ?? DEFAULT_HASH_CONCURRENCY_MAX;
    this.hashQueueMax = options.hashQueueMax ?? DEFAULT_HASH_QUEUE_MAX;
    this.random = options.randomBytes ?? ((n) => randomBytes(n));
    assert(Number.isSafeInteger(this.hashConcurrencyMax) && this.hashConcurrencyMax >= 1, 'hashConcurrencyMax must be >= 1');
    assert(Number.isSafeInteger(this.hashQueueMax) && this.hashQueueMax >= 0, 'hashQueueMax must be >= 0');
    const own = scryptParamsOf({ algorithm: SCRYPT_ALGORITHM, params: { ...this.params }, salt: new Uint8Array(1), hash: new Uint8Array(this.params.keyBytes) });
    assert(own !== null, 'scrypt params out of the accepted bounds');
  }

  /** Hashes running and waiting now (for metrics and tests). */
  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  /** A new record for `password` with a fresh salt (the server proposes it in user add / passwd). */
  async hash(password: string): Promise<PasswordRecord> {
    const bytes = passwordBytes(password);
    const salt = Uint8Array.from(this.random(SALT_BYTES));
    assert(salt.length === SALT_BYTES, 'randomBytes returned the wrong length');
    const hash = await this.derive(bytes, salt, this.params);
    const { N, r, p, keyBytes } = this.params;
    return { algorithm: SCRYPT_ALGORITHM, params: { N, r, p, keyBytes }, salt, hash };
  }

  /**
   * Whether `password` matches `record`, compared in constant time. False (not
   * an exception) for a wrong password, and for a record this hasher cannot
   * verify (unknown algorithm, parameters out of bounds); AuthOverloadedError
   * when too many hashes are queued; InvalidPasswordError for an empty or
   * oversize password.
   */
  async verify(password: string, record: PasswordRecord): Promise<boolean> {
    const bytes = passwordBytes(password);
    const params = scryptParamsOf(record);
    if (params === null) return false;
    const derived = await this.derive(bytes, record.salt, params);
    return derived.length === record.hash.length && timingSafeEqual(derived, record.hash);
  }

  private async derive(password: Uint8Array, salt: Uint8Array, params: ScryptParams): Promise<Uint8Array> {
    await this.acquire();
    try {
      return await new Promise<Uint8Array>((resolve, reject) => {
        scrypt(password, salt, params.keyBytes, { N: params.N, r: params.r, p: params.p, maxmem: memoryBytes(params) + 1024 * 1024 }, (err, key) => {
          if (err) reject(err);
          else resolve(new Uint8Array(key.buffer, key.byteOffset, key.length));
        });
      });
    } finally {
      this.release();
    }
  }

  private acquire(): Promise<void> {
    if (this.running < this.hashConcurrencyMax) {
      this.running++;
      return Promise.resolve();
    }
    if (this.waiting.length >= this.hashQueueMax) {
      return Promise.reject(new AuthOverloadedError({ hashConcurrencyMax: this.hashConcurrencyMax, hashQueueMax: this.hashQueueMax }));
    }
    // The slot is handed over by release(): `running` stays counted.
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next !== undefined) next();
    else this.running--;
  }
}
