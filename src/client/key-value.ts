import type { KeyValue } from '../protocol/index.js';
import { bytesToString } from './bytes.js';

/**
 * One key as read from the store: its value bytes plus bookkeeping, with
 * helpers to read key and value as text.
 */
export class KeyValueResult {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
  /** Number of writes since the key was (re)created; 1 right after creation. */
  readonly version: number;
  /** Store revision of the change that created the key. */
  readonly createRevision: number;
  /** Store revision of the change that last wrote the key. */
  readonly modRevision: number;
  /** The lease the key is attached to (deleted with it), or 0. */
  readonly lease: number;

  constructor(kv: KeyValue) {
    this.key = kv.key;
    this.value = kv.value;
    this.version = kv.version;
    this.createRevision = kv.createRevision;
    this.modRevision = kv.modRevision;
    this.lease = kv.lease ?? 0;
  }

  /** The key as UTF-8 text. */
  keyString(): string {
    return bytesToString(this.key);
  }

  /** The value as UTF-8 text. */
  valueString(): string {
    return bytesToString(this.value);
  }

  /** The value parsed as JSON (throws SyntaxError when it is not JSON). */
  valueJson<T = unknown>(): T {
    return JSON.parse(this.valueString()) as T;
  }

  /** A plain object with key and value as text, for printing and `--json`. */
  toJSON(): { key: string; value: string; version: number; createRevision: number; modRevision: number; lease?: number } {
    return {
      key: this.keyString(),
      value: this.valueString(),
      version: this.version,
      createRevision: this.createRevision,
      modRevision: this.modRevision,
      // Only on a key that has one: the JSON of other keys stays as it was.
      ...(this.lease !== 0 ? { lease: this.lease } : {}),
    };
  }
}
