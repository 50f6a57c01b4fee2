/**
 * The client library against an in-process fake cluster over mem://:
 * leader finding and redirects, retries that keep their seq, deadlines and
 * aborts, exactly-once writes, scan paging and cleanup, error mapping.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  AbortedError,
  ClientClosedError,
  connect,
  InvalidRequestError,
  KeyNotFoundError,
  KeyTooLargeError,
  SessionExpiredError,
  TimeoutError,
  UnavailableError,
  ValueTooLargeError,
  VersionMismatchError,
  type KvClient,
} from '../../src/client/index.js';
import { ErrorCode, Method } from '../../src/protocol/index.js';
import { FakeCluster, remoteError } from './fake-cluster.js';
import { fastBackoff, useFakeClusters } from './harness.js';

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('utf8');

const { setup, open } = useFakeClusters();

describe('reads and writes', () => {
  test('put, get, update and delete round-trip with versions and revisions', async () => {
    const c = await setup();
    const kv = await open(c.urls);
    const created = await kv.put('greeting', 'hello');
    assert.equal(created.version, 1);
    const read = await kv.get('greeting');
    assert.ok(read !== null);
    assert.equal(read.valueString(), 'hello');
    assert.equal(read.keyString(), 'greeting');
    assert.equal(read.version, 1);
    assert.equal(read.createRevision, created.revision);
    assert.equal(read.modRevision, created.revision);

    const updated = await kv.update('greeting', new TextEncoder().encode('bonjour'));
    assert.equal(updated.version, 2);
    const reread = await kv.get(new TextEncoder().encode('greeting'));
    assert.equal(reread?.valueString(), 'bonjour');
    assert.equal(reread?.createRevision, created.revision);
    assert.equal(reread?.modRevision, updated.revision);

    assert.deepEqual(await kv.delete('greeting'), { revision: c.store.revision, deleted: true });
    assert.equal(await kv.get('greeting'), null);
    assert.equal((await kv.delete('greeting')).deleted, false);
  });

  test('update of a missing key is KeyNotFoundError; a failed compare-and-set is VersionMismatchError', async () => {
    const c = await setup();
    const kv = await open(c.urls);
    await assert.rejects(kv.update('missing', 'x'), (error: unknown) => {
      assert.ok(error instanceof KeyNotFoundError);
      assert.equal(text(error.details.key), 'missing');
      return true;
    });
    await kv.put('k', 'v1');
    await assert.rejects(kv.put('k', 'v2', { expectedVersion: 0 }), (error: unknown) => {
      assert.ok(error instanceof VersionMismatchError);
      assert.equal(error.details.actualVersion, 1);
      return true;
    });
    assert.equal((await kv.put('k', 'v2', { expectedVersion: 1 })).version, 2);
    assert.equal((await kv.get('k'))?.valueString(), 'v2');
  });

  test('size errors from a member arrive as KeyTooLargeError / ValueTooLargeError with their numbers', async () => {
    const c = await setup();
    const kv = await open(c.urls);
    c.hook = (_member, method, request) => {
      if (method !== Method.Put) return;
      if (request.key.length > 8) throw remoteError(ErrorCode.KeyTooLarge, 'key too large', { keyBytes: request.key.length, keyBytesMax: 8 });
      throw remoteError(ErrorCode.ValueTooLarge, 'value too large', { valueBytes: request.value.length, valueBytesMax: 4 });
    };
    await assert.rejects(kv.put('a-very-long-key', 'v'), (error: unknown) => error instanceof KeyTooLargeError && error.details.keyBytes === 15);
    await assert.rejects(kv.put('k', '12345'), (error: unknown) => error instanceof ValueTooLargeError && error.details.valueBytesMax === 4);
  });

  test('an unknown server error code surfaces with its code; the call is not retried', async () => {
    const c = await setup();
    const kv = await open(c.urls);
    c.hook = (_m, method) => {
      if (method === Method.Get) throw remoteError('CONCORD_ERR_SOMETHING_NEW', 'new failure');
    };
    await assert.rejects(kv.get('k'), (error: unknown) => (error as { code?: string }).code === 'CONCORD_ERR_SOMETHING_NEW');
    assert.equal(c.requests(Method.Get).length, 1);
  });

  test('many concurrent calls share one connection (pipelining)', async () => {
    const c = await setup(['n1']);
    const kv = await open(c.urls);
    await Promise.all(Array.from({ length: 300 }, (_, i) => kv.put(`key-${i}`, `value-${i}`)));
    const values = await Promise.all(Array.from({ length: 300 }, (_, i) => kv.get(`key-${i}`)));
    assert.deepEqual(
      values.map((v) => v?.valueString()),
      Array.from({ length: 300 }, (_, i) => `value-${i}`),
    );
    assert.equal(c.member('n1').connectionsAccepted, 1);
    assert.equal(c.store.applied, 300);
  });
});

describe('finding the leader', () => {
  test('follows a redirect to a leader URL it was not given, and stays there', async () => {
    const c = await setup();
    const kv = await open([c.member('n2').url]);
    await kv.put('a', '1');
    assert.equal(kv.leaderUrl, c.member('n1').url);
    const before = c.received.filter((r) => r.member === 'n2').length;
    await kv.put('b', '2');
    await kv.get('a');
    assert.equal(c.received.filter((r) => r.member === 'n2').length, before, 'later calls go straight to the leader');
  });

  test('stale reads stay with the member in the rotation; linearizable ones go to the leader', async () => {
    const c = await setup();
    const kv = await open([c.member('n3').url]);
    await kv.put('k', 'v');
    assert.equal(kv.leaderUrl, c.member('n1').url);
    assert.equal((await kv.get('k', { consistency: 'stale' }))?.valueString(), 'v');
    assert.equal(c.requests(Method.Get).at(-1)?.member, 'n3');
    await kv.scan({ prefix: 'k' }, { consistency: 'stale' }).toArray();
    assert.equal(c.requests(Method.Scan).at(-1)?.member, 'n3');
    await kv.get('k');
    assert.equal(c.requests(Method.Get).at(-1)?.member, 'n1');
  });

  test('after a leader change, follows the new leader named by the old one', async () => {
    const c = await setup();
    const kv = await open(c.urls);
    await kv.put('a', '1');
    assert.equal(kv.leaderUrl, c.member('n1').url);
    c.leaderName = 'n3';
    await kv.put('b', '2');
    assert.equal(kv.leaderUrl, c.member('n3').url);
    assert.equal((await kv.get('b'))?.valueString(), '2');
  });

  test('tries the other members when the leader is unreachable, with no hint from anyone', async () => {
    const c = await setup();
    const kv = await open(c.urls);
    await kv.put('a', '1');
    await c.stopMember('n1');
    c.leaderHintOverride = null;
    // No leader for a while: members answer NotLeader without a hint.
    c.leaderName = null;
    setTimeout(() => {
      c.leaderName = 'n2';
    }, 50);
    const result = await kv.put('b', '2');
    assert.equal(result.version, 1);
    assert.equal(c.requests(Method.Put).at(-1)?.member, 'n2');
  });

  test('connect fails with UnavailableError when no member can be reached', async () => {
    await assert.rejects(
      connect({ endpoints: ['mem://client-test-nobody-1', 'mem://client-test-nobody-2'], timeoutMs: 200, backoff: fastBackoff }),
      (error: unknown) => error instanceof UnavailableError && /no member could serve/.test(error.message),
    );
  });

  test('connect rejects a malformed endpoint at once', async () => {
    await assert.rejects(connect({ endpoints: ['bogus://x'] }), InvalidRequestError);
  });
});

describe('exactly-once writes', () => {
  test('a write whose answer was lost with the connection is retried with the same seq and applied once', async () => {
    const c = await setup(['n1']);
    const kv = await open(c.urls);
    let dropped = false;
    c.hook = (_m, method) => {
      if (method === Method.Put && !dropped) {
        dropped = true;
        return 'drop-after';
      }
    };
    const result = await kv.put('counter', 'once');
    assert.equal(result.version, 1);
    const puts = c.requests(Method.Put);
    assert.equal(puts.length, 2, 'sent twice');
    assert.deepEqual(puts[0]!.request.session.seq, puts[1]!.request.session.seq);
    assert.equal(puts[0]!.request.session.sessionId, puts[1]!.request.session.sessionId);
    assert.equal(c.store.applied, 1, 'applied once');
    assert.equal((await kv.get('counter'))?.version, 1);
  });

  test('sequence numbers increase and ackedSeq trails the settled writes', async () => {
    const c = await setup(['n1']);
    const kv = await open(c.urls);
    for (let i = 0; i < 5; i++) await kv.put('k', String(i));
    const refs = c.requests(Method.Put).map((r) => r.request.session);
    assert.deepEqual(
      refs.map((r) => r.seq),
      [1, 2, 3, 4, 5],
    );
    assert.deepEqual(
      refs.map((r) => r.ackedSeq),
      [0, 1, 2, 3, 4],
    );
    assert.ok(refs.every((r) => r.sessionId === kv.sessionId));
  });

  test('a timed-out write carries an UnresolvedWrite; retryWrite learns its one outcome', async () => {
    const c = await setup(['n1']);
    const kv = await open(c.urls);
    let stall = true;
    c.hook = async (_m, method, _request, context) => {
      if (method === Method.Put && stall) {
        // Applied, but the answer never comes before the client's deadline.
        await new Promise((resolve) => context.signal.addEventListener('abort', resolve, { once: true }));
      }
    };
    const error = await kv.put('k', 'v', { timeoutMs: 100 }).then(
      () => assert.fail('expected a timeout'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof TimeoutError);
    assert.ok(error.unresolvedWrite !== undefined);
    assert.equal(kv.unresolvedWrites.length, 1);
    stall = false;
    const outcome = await kv.retryWrite(error.unresolvedWrite);
    assert.equal((outcome as { version: number }).version, 1);
    assert.equal(kv.unresolvedWrites.length, 0);
    // While unresolved, the write held ackedSeq back; now the next write acknowledges it.
    await kv.put('k2', 'v');
    const last = c.requests(Method.Put).at(-1)!.request.session;
    assert.equal(last.ackedSeq, last.seq - 1);
  });

  test('a write left unresolved by a timeout cannot be retried once its session is gone', async () => {
    const c = await setup(['n1']);
    const kv = await open(c.urls);
    let stall = true;
    c.hook = async (_m, method, _request, context) => {
      if (method === Method.Put && stall) await new Promise((resolve) => context.signal.addEventListener('abort', resolve, { once: true }));
    };
    const error = await kv.put('k', 'v', { timeoutMs: 50 }).then(
      () => assert.fail('expected a timeout'),
      (e: unknown) => e as TimeoutError,
    );
    assert.ok(error.unresolvedWrite);
    stall = false;
    c.store.sessions.clear();
    await kv.put('other', 'x'); // Finds the session gone and opens a new one.
    await assert.rejects(kv.retryWrite(error.unresolvedWrite), SessionExpiredError);
    assert.equal(kv.unresolvedWrites.length, 0);
  });

  test('the session is kept alive in the background', async () => {
    const c = await setup(['n1']);
    c.sessionTtlMs = 300; // Keep-alives every 100 ms.
    const kv = await open(c.urls);
    for (let waited = 0; c.requests(Method.KeepAlive).length < 2; waited += 20) {
      assert.ok(waited < 10_000, 'no keep-alives were sent');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(c.requests(Method.KeepAlive).every((r) => r.request.sessionId === kv.sessionId));
  });

  test('an expired session is replaced and a write that never reached it goes through once', async () => {
    const c = await setup(['n1']);
    const kv = await open(c.urls);
    await kv.put('a', '1');
    const firstSession = kv.sessionId;
    c.store.sessions.clear(); // The cluster expired the session.
    const result = await kv.put('b', '2');
    assert.equal(result.version, 1);
    assert.notEqual(kv.sessionId, firstSession);
    assert.equal(c.requests(Method.OpenSession).length, 2);
  });
});

describe('deadlines and cancellation', () => {
  test('a read that gets no answer ends with TimeoutError after its timeoutMs', async () => {
    const c = await setup(['n1']);
    const kv = await open(c.urls);
    c.hook = (_m, method, _r, context) => {
      if (method === Method.Get) return new Promise<void>((resolve) => context.signal.addEventListener('abort', () => resolve(), { once: true }));
    };
    await assert.rejects(kv.get('k', { timeoutMs: 50 }), TimeoutError);
  });

  test('an AbortSignal cancels a call in flight with AbortedError, and the member sees the cancel', async () => {
    const c = await setup(['n1']);
    const kv = await open(c.urls);
    let cancelled!: () => void;
    const memberSawCancel = new Promise<void>((resolve) => (cancelled = resolve));
    c.hook = (_m, method, _r, context) => {
      if (method === Method.Get) {
        return new Promise<void>((resolve) =>
          context.signal.addEventListener(
            'abort',
            () => {
              cancelled();
              resolve();
            },
            { once: true },
          ),
        );
      }
    };
    const controller = new AbortController();
    const call = kv.get('k', { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await assert.rejects(call, AbortedError);
    await memberSawCancel;
  });

  test('an already-aborted signal fails at once', async () => {
    const c = await setup(['n1']);
    const kv = await open(c.urls);
    await assert.rejects(kv.put('k', 'v', { signal: AbortSignal.abort() }), AbortedError);
  });

  test('close() ends the session; later calls fail with ClientClosedError', async () => {
    const c = await setup(['n1']);
    const kv = await connect({ endpoints: c.urls, backoff: fastBackoff });
    const sessionId = kv.sessionId!;
    assert.ok(c.store.sessions.has(sessionId));
    await kv.close();
    assert.ok(!c.store.sessions.has(sessionId));
    await assert.rejects(kv.get('k'), ClientClosedError);
  });
});

describe('scan', () => {
  async function seeded(count: number): Promise<{ c: FakeCluster; kv: KvClient }> {
    const c = await setup(['n1']);
    const kv = await open(c.urls);
    await Promise.all(Array.from({ length: count }, (_, i) => kv.put(`item/${String(i).padStart(3, '0')}`, `v${i}`)));
    await kv.put('other', 'x');
    return { c, kv };
  }

  test('pages follow continuation tokens and yield every key in order', async () => {
    const { c, kv } = await seeded(25);
    const pages: string[][] = [];
    for await (const page of kv.scan({ prefix: 'item/' }, { pageSize: 10 })) pages.push(page.map((e) => e.keyString()));
    assert.deepEqual(
      pages.map((p) => p.length),
      [10, 10, 5],
    );
    assert.deepEqual(
      pages.flat(),
      Array.from({ length: 25 }, (_, i) => `item/${String(i).padStart(3, '0')}`),
    );
    const scans = c.requests(Method.Scan);
    assert.equal(scans[0]!.request.after, undefined);
    assert.equal(text(scans[1]!.request.after), 'item/009');
  });

  test('limit caps the total across pages; ranges are half-open', async () => {
    const { kv } = await seeded(25);
    const limited = await kv.scan({ prefix: 'item/' }, { pageSize: 10, limit: 15 }).toArray();
    assert.equal(limited.length, 15);
    const range = await kv.scan({ start: 'item/005', end: 'item/008' }).toArray();
    assert.deepEqual(
      range.map((e) => e.keyString()),
      ['item/005', 'item/006', 'item/007'],
    );
    const all: string[] = [];
    for await (const entry of kv.scan({ prefix: '' }, { pageSize: 7 }).entries()) all.push(entry.keyString());
    assert.equal(all.length, 26);
  });

  test('breaking out of the loop cancels the prefetch of the next page', async () => {
    const { c, kv } = await seeded(25);
    let secondPageCancelled!: () => void;
    const cancelled = new Promise<void>((resolve) => (secondPageCancelled = resolve));
    c.hook = (_m, method, request, context) => {
      if (method === Method.Scan && request.after !== undefined) {
        return new Promise<void>((resolve) =>
          context.signal.addEventListener(
            'abort',
            () => {
              secondPageCancelled();
              resolve();
            },
            { once: true },
          ),
        );
      }
    };
    let pages = 0;
    for await (const page of kv.scan({ prefix: 'item/' }, { pageSize: 10 })) {
      pages++;
      assert.equal(page.length, 10);
      break;
    }
    assert.equal(pages, 1);
    await cancelled;
    assert.equal(c.requests(Method.Scan).length, 2, 'only the first page and one prefetch were requested');
  });
});

describe('status', () => {
  test('reports every member from the member itself, and the leader', async () => {
    const c = await setup();
    const kv = await open(c.urls);
    await c.stopMember('n3');
    const status = await kv.status({ timeoutMs: 500 });
    assert.equal(status.leaderId, 'n1');
    assert.deepEqual(
      status.members.map((m) => [m.name, m.status?.role ?? null]),
      [
        ['n1', 'leader'],
        ['n2', 'follower'],
        ['n3', null],
      ],
    );
    assert.ok(status.members[2]!.error !== null);
  });
});
