/**
 * Test helpers for the key-value state machine: a driver that numbers log
 * entries and stamps leader time like a server would, going through the real
 * command encoding so every test also exercises the codec.
 */
import {
  CommandKind,
  KvStateMachine,
  ResultKind,
  encodeCommand,
  type ApplyResult,
  type Command,
  type KvOptions,
  type SessionRef,
  type WriteConditions,
} from '../../src/kv/index.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** UTF-8 bytes of a string. */
export function b(text: string): Uint8Array {
  return encoder.encode(text);
}

export function text(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

export class Driver {
  readonly sm: KvStateMachine;
  /** Leader time stamped on the next entry. */
  nowMs = 1_000_000;
  /** Every entry applied so far, to replay into another state machine. */
  readonly log: Uint8Array[] = [];
  /** The user the next commands were authorized as (the entry's principal); null: anonymous. */
  user: string | null = null;

  constructor(options: Partial<KvOptions> = {}) {
    this.sm = new KvStateMachine(options);
  }

  get nextIndex(): number {
    return this.sm.appliedIndex + 1;
  }

  /** Encodes like a leader that checked `command` against the current auth state (its revision goes in the entry). */
  run(command: Command): ApplyResult {
    return this.applyBytes(encodeCommand(command, this.nowMs, 0, { user: this.user, authRevision: this.sm.auth.revision }));
  }

  applyBytes(data: Uint8Array): ApplyResult {
    this.log.push(data);
    return this.sm.apply(this.sm.appliedIndex + 1, data);
  }

  put(key: string | Uint8Array, value: string | Uint8Array, extra: WriteConditions & { session?: SessionRef } = {}): ApplyResult {
    return this.run({ kind: CommandKind.Put, key: asBytes(key), value: asBytes(value), ...extra });
  }

  update(key: string | Uint8Array, value: string | Uint8Array, extra: WriteConditions & { session?: SessionRef } = {}): ApplyResult {
    return this.run({ kind: CommandKind.Update, key: asBytes(key), value: asBytes(value), ...extra });
  }

  del(key: string | Uint8Array, extra: WriteConditions & { session?: SessionRef } = {}): ApplyResult {
    return this.run({ kind: CommandKind.Delete, key: asBytes(key), ...extra });
  }

  openSession(ttlMs = 0): number {
    const result = this.run({ kind: CommandKind.OpenSession, ttlMs });
    if (result.kind !== ResultKind.SessionOpened) throw new Error(`openSession failed: ${JSON.stringify(result)}`);
    return result.sessionId;
  }
}

export function asBytes(v: string | Uint8Array): Uint8Array {
  return typeof v === 'string' ? b(v) : v;
}

/** Concatenates chunks. */
export function concat(chunks: Iterable<Uint8Array>): Uint8Array {
  const list = [...chunks];
  const out = new Uint8Array(list.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of list) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/** Every entry of a state machine in key order, as plain data. */
export function dumpEntries(sm: KvStateMachine): { key: string; value: string; version: number; createRevision: number; modRevision: number }[] {
  const out = [];
  let after: Uint8Array | undefined;
  for (;;) {
    const page = sm.scan({ limit: 1000, ...(after ? { after } : {}) });
    for (const e of page.entries) {
      out.push({
        key: Buffer.from(e.key).toString('hex'),
        value: Buffer.from(e.value).toString('hex'),
        version: e.version,
        createRevision: e.createRevision,
        modRevision: e.modRevision,
      });
    }
    if (page.next === null) return out;
    after = page.next;
  }
}
