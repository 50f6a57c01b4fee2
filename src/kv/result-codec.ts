/**
 * Bytes for an ApplyResult, so that the saved results of exactly-once writes
 * can live in a snapshot and be replayed after a restore exactly as they were
 * first answered. Errors travel as their code and details (see errors.ts).
 */
import { ByteReader, ByteWriter } from './bytes.js';
import { InvalidCommandError, kvErrorFromWire, type KvErrorDetailValue, type KvErrorDetails } from './errors.js';
import { ResultKind, okResult, type ApplyResult } from './types.js';
import { readLeaseResult, writeLeaseResult } from './lease-codec.js';
import { readTxnResult, writeTxnResult } from './txn-codec.js';

/** The first byte of an encoded result (saved-result.ts builds the common ones without a writer; lease results use 10-12, lease-codec.ts). */
export const ResultTag = { Write: 1, Delete: 2, SessionOpened: 3, SessionClosed: 4, Ok: 5, Error: 6, Txn: 7 } as const;
const Tag = ResultTag;
const DetailTag = { Null: 0, Number: 1, String: 2, Bytes: 3 } as const;

export function writeResult(w: ByteWriter, result: ApplyResult): void {
  switch (result.kind) {
    case ResultKind.Write:
      w.u8(Tag.Write);
      w.varint(result.version);
      w.varint(result.createRevision);
      w.varint(result.modRevision);
      return;
    case ResultKind.Delete:
      w.u8(Tag.Delete);
      w.u8(result.deleted ? 1 : 0);
      w.varint(result.revision);
      return;
    case ResultKind.SessionOpened:
      w.u8(Tag.SessionOpened);
      w.varint(result.sessionId);
      w.varint(result.ttlMs);
      return;
    case ResultKind.SessionClosed:
      w.u8(Tag.SessionClosed);
      w.u8(result.closed ? 1 : 0);
      return;
    case ResultKind.Ok:
      w.u8(Tag.Ok);
      return;
    case ResultKind.Txn:
      w.u8(Tag.Txn);
      writeTxnResult(w, result);
      return;
    case ResultKind.Error: {
      w.u8(Tag.Error);
      w.string(result.error.code);
      const entries = Object.entries(result.error.details);
      w.varint(entries.length);
      for (const [name, value] of entries) {
        w.string(name);
        writeDetail(w, value);
      }
      return;
    }
    default:
      // Tags 10-12: lease results (lease-codec.ts).
      writeLeaseResult(w, result);
  }
}

function writeDetail(w: ByteWriter, value: KvErrorDetailValue): void {
  if (value === null) w.u8(DetailTag.Null);
  else if (typeof value === 'number') {
    // Every numeric detail is a count, an index, a length or a limit: a non-negative integer.
    if (!Number.isSafeInteger(value) || value < 0) throw new TypeError(`error detail ${value} is not a non-negative integer`);
    w.u8(DetailTag.Number);
    w.varint(value);
  } else if (typeof value === 'string') {
    w.u8(DetailTag.String);
    w.string(value);
  } else {
    w.u8(DetailTag.Bytes);
    w.bytes(value);
  }
}

/** Reads one result; malformed bytes make `r` call its fail function. */
export function readResult(r: ByteReader, fail: (reason: string) => never): ApplyResult {
  const tag = r.u8();
  switch (tag) {
    case Tag.Write:
      return { kind: ResultKind.Write, version: r.varint(), createRevision: r.varint(), modRevision: r.varint() };
    case Tag.Delete: {
      const deleted = bool(r, fail);
      return { kind: ResultKind.Delete, deleted, revision: r.varint() };
    }
    case Tag.SessionOpened:
      return { kind: ResultKind.SessionOpened, sessionId: r.varint(), ttlMs: r.varint() };
    case Tag.SessionClosed:
      return { kind: ResultKind.SessionClosed, closed: bool(r, fail) };
    case Tag.Ok:
      return okResult;
    case Tag.Txn:
      return readTxnResult(r, fail);
    case Tag.Error: {
      const code = r.string();
      const count = r.varint();
      if (count > 16) fail(`error with ${count} details`);
      const details: Record<string, KvErrorDetailValue> = {};
      for (let i = 0; i < count; i++) {
        const name = r.string();
        details[name] = readDetail(r, fail);
      }
      try {
        return { kind: ResultKind.Error, error: kvErrorFromWire({ code, details: details as KvErrorDetails }) };
      } catch (err) {
        return fail(`bad saved error: ${(err as Error).message}`);
      }
    }
    default:
      return readLeaseResult(tag, r, fail) ?? fail(`unknown result tag ${tag}`);
  }
}

function bool(r: ByteReader, fail: (reason: string) => never): boolean {
  const b = r.u8();
  if (b > 1) fail(`bad boolean byte ${b}`);
  return b === 1;
}

function readDetail(r: ByteReader, fail: (reason: string) => never): KvErrorDetailValue {
  const tag = r.u8();
  switch (tag) {
    case DetailTag.Null:
      return null;
    case DetailTag.Number:
      return r.varint();
    case DetailTag.String:
      return r.string();
    case DetailTag.Bytes:
      return r.bytesCopy();
    default:
      return fail(`unknown error detail tag ${tag}`);
  }
}

/** One result as bytes (the form saved results take in a snapshot). */
export function encodeApplyResult(result: ApplyResult): Uint8Array {
  const w = new ByteWriter(32);
  writeResult(w, result);
  return w.finish();
}

/** Reverses encodeApplyResult; throws InvalidCommandError on malformed bytes. */
export function decodeApplyResult(bytes: Uint8Array): ApplyResult {
  const fail = (reason: string): never => {
    throw new InvalidCommandError({ reason: `bad result bytes: ${reason}` });
  };
  const r = new ByteReader(bytes, fail);
  const result = readResult(r, fail);
  r.expectEnd();
  return result;
}
