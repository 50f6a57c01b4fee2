import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConcordError } from '../../src/common/errors.js';
import {
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
  ResultKind,
  SessionExpiredError,
  LeaseExistsError,
  LeaseNotFoundError,
  LeasesFullError,
  CompactedError,
  FutureRevisionError,
  IncrementOverflowError,
  NotANumberError,
  SessionResultsFullError,
  SessionTableFullError,
  AuthOldRevisionError,
  SessionsFullError,
  StaleSequenceError,
  ValueTooLargeError,
  VersionMismatchError,
  decodeApplyResult,
  encodeApplyResult,
  isKvErrorCode,
  kvErrorFromWire,
  kvErrorToWire,
  okResult,
  type ApplyResult,
} from '../../src/kv/index.js';

const samples: KvError[] = [
  new EmptyKeyError(),
  new KeyTooLargeError({ keyBytes: 5000, keyBytesMax: 4096 }),
  new ValueTooLargeError({ valueBytes: 2_000_000, valueBytesMax: 1_048_576 }),
  new KeyNotFoundError({ key: Uint8Array.of(0x61, 0xff) }),
  new VersionMismatchError({ key: Uint8Array.of(0x61), expectedVersion: 0, expectedModRevision: null, actualVersion: 3, actualModRevision: 17 }),
  new SessionExpiredError({ sessionId: 12 }),
  new StaleSequenceError({ sessionId: 12, seq: 3, ackedSeq: 5 }),
  new SessionResultsFullError({ sessionId: 12, sessionResultsMax: 4096 }),
  new SessionsFullError({ sessionsMax: 10_000 }),
  new InvalidCommandError({ reason: 'truncated' }),
  new InvalidScanError({ reason: 'limit' }),
  new TxnTooLargeError({ limit: 'txnOpsMax', max: 10, actual: 11 }),
  new NotANumberError({ key: Uint8Array.of(0x6e), kind: 'integer' }),
  new IncrementOverflowError({ key: Uint8Array.of(0x6e), kind: 'float' }),
  new CorruptSnapshotError({ reason: 'checksum' }),
  new UserNotFoundError({ user: 'alice' }),
  new UserExistsError({ user: 'alice' }),
  new RoleNotFoundError({ role: 'reader' }),
  new RoleExistsError({ role: 'reader' }),
  new RoleNotGrantedError({ user: 'alice', role: 'reader' }),
  new PermissionNotGrantedError({ role: 'reader', key: Uint8Array.of(0x61), rangeEnd: Uint8Array.of(0x62) }),
  new RootUserRequiredError({ operation: 'auth enable' }),
  new AuthLimitError({ limit: 'USER_ROLES_MAX', max: 64 }),
  new LeaseNotFoundError({ leaseId: 7 }),
  new LeaseExistsError({ leaseId: 7 }),
  new LeasesFullError({ leasesMax: 10 }),
  new CompactedError({ compactRevision: 7 }),
  new FutureRevisionError({ revision: 9, currentRevision: 8 }),
  new PermissionDeniedError({ user: 'alice', operation: 'write', key: Uint8Array.of(0x62, 0x2f, 0x78), rangeEnd: null }),
  new AuthenticationFailedError({ user: null }),
  new UserQuotaExceededError({ user: 'alice', quota: 'sessionsPerUserMax', limit: 100 }),
  new SessionTableFullError({ sessionTableBytesMax: 1024 }),
  new AuthOldRevisionError({ authRevision: 3, currentAuthRevision: 5 }),
];

test('every error class has a distinct, stable CONCORD_ERR_ code and is a ConcordError', () => {
  const codes = samples.map((e) => e.code);
  assert.deepEqual(new Set(codes).size, samples.length);
  assert.deepEqual([...codes].sort(), Object.values(KvErrorCode).sort(), 'one sample per code');
  for (const error of samples) {
    assert.ok(error instanceof ConcordError);
    assert.ok(error instanceof KvError);
    assert.match(error.code, /^CONCORD_ERR_[A-Z_]+$/);
    assert.equal(error.name, error.constructor.name);
    assert.ok(isKvErrorCode(error.code));
  }
  assert.equal(isKvErrorCode('CONCORD_ERR_NOPE'), false);
});

test('errors rebuild from their wire form as the same class with the same message', () => {
  for (const error of samples) {
    const rebuilt = kvErrorFromWire(kvErrorToWire(error));
    assert.equal(rebuilt.constructor, error.constructor);
    assert.equal(rebuilt.message, error.message);
    assert.deepEqual(rebuilt.details, error.details);
  }
  assert.throws(() => kvErrorFromWire({ code: 'CONCORD_ERR_NOPE', details: {} }), /unknown key-value error code/);
  assert.throws(() => kvErrorFromWire({ code: KvErrorCode.SessionExpired, details: { sessionId: 'x' } }), /must be an integer/);
  assert.throws(() => kvErrorFromWire({ code: KvErrorCode.KeyNotFound, details: {} }), /must be bytes/);
});

test('messages are readable: printable keys as text, others as hex', () => {
  assert.equal(new KeyNotFoundError({ key: new TextEncoder().encode('users/1') }).message, 'key "users/1" not found');
  assert.equal(new KeyNotFoundError({ key: Uint8Array.of(0x00, 0xff) }).message, 'key 0x00ff not found');
  assert.match(new KeyNotFoundError({ key: new Uint8Array(100).fill(0x61) }).message, /\.\.\. \(100 bytes\)/);
});

test('results round-trip through their byte form', () => {
  const results: ApplyResult[] = [
    { kind: ResultKind.Write, version: 3, createRevision: 1, modRevision: 9 },
    { kind: ResultKind.Delete, deleted: true, revision: 4 },
    { kind: ResultKind.Delete, deleted: false, revision: 5 },
    { kind: ResultKind.SessionOpened, sessionId: 7, ttlMs: 60_000 },
    { kind: ResultKind.SessionClosed, closed: false },
    okResult,
    ...samples.map((error) => ({ kind: ResultKind.Error, error }) as const),
  ];
  for (const result of results) {
    const decoded = decodeApplyResult(encodeApplyResult(result));
    if (result.kind === ResultKind.Error) {
      assert.equal(decoded.kind, ResultKind.Error);
      if (decoded.kind !== ResultKind.Error) continue;
      assert.equal(decoded.error.constructor, result.error.constructor);
      assert.deepEqual(decoded.error.details, result.error.details);
    } else {
      assert.deepEqual(decoded, result);
    }
  }
  assert.throws(() => decodeApplyResult(Uint8Array.of(99)), InvalidCommandError);
  assert.throws(() => decodeApplyResult(Uint8Array.of(2, 7, 1)), /boolean/);
  assert.throws(() => decodeApplyResult(Uint8Array.of(5, 0)), /trailing/);
});
