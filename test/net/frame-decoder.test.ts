import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FrameDecoder, FrameTooLargeError } from '../../src/net/index.js';

function encodeFrames(bodies: Uint8Array[]): Buffer {
  return Buffer.concat(
    bodies.map((body) => {
      const frame = Buffer.alloc(4 + body.length);
      frame.writeUInt32BE(body.length, 0);
      frame.set(body, 4);
      return frame;
    }),
  );
}

function split(stream: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let previous = 0;
  for (const point of [...points, stream.length]) {
    chunks.push(stream.subarray(previous, point));
    previous = point;
  }
  return chunks;
}

function decodeAll(chunks: Buffer[], frameBytesMax = 1 << 20): Buffer[] {
  const out: Buffer[] = [];
  // Copy each frame: the decoder may hand out views of the chunk.
  const decoder = new FrameDecoder(frameBytesMax, (bytes, start, end) => {
    out.push(Buffer.from(bytes.subarray(start, end)));
  });
  for (const chunk of chunks) decoder.push(chunk);
  assert.equal(decoder.bufferedBytes, 0);
  return out;
}

const frames = fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 });

test('any split of the stream decodes to the same frames (property)', () => {
  fc.assert(
    fc.property(frames, fc.array(fc.nat(), { maxLength: 40 }), (bodies, cuts) => {
      const stream = encodeFrames(bodies);
      const decoded = decodeAll(split(stream, cuts));
      assert.deepEqual(decoded.map((b) => [...b]), bodies.map((b) => [...b]));
    }),
    { numRuns: 300 },
  );
});

test('one byte at a time decodes to the same frames (property)', () => {
  fc.assert(
    fc.property(frames, (bodies) => {
      const stream = encodeFrames(bodies);
      const chunks = [...stream].map((byte) => Buffer.from([byte]));
      assert.deepEqual(decodeAll(chunks).map((b) => [...b]), bodies.map((b) => [...b]));
    }),
    { numRuns: 100 },
  );
});

test('empty frames, including one ending a chunk, are delivered', () => {
  const stream = encodeFrames([new Uint8Array(0), new Uint8Array([1]), new Uint8Array(0)]);
  assert.deepEqual(decodeAll([stream.subarray(0, 4), stream.subarray(4)]).map((b) => b.length), [0, 1, 0]);
});

test('a length prefix over frameBytesMax is FrameTooLargeError, even split across chunks', () => {
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(1025, 0);
  const decoder = new FrameDecoder(1024, () => assert.fail('no frame expected'));
  decoder.push(prefix.subarray(0, 2));
  assert.throws(() => decoder.push(prefix.subarray(2)), (error: unknown) => {
    assert.ok(error instanceof FrameTooLargeError);
    assert.equal(error.code, 'CONCORD_ERR_FRAME_TOO_LARGE');
    assert.equal(error.frameBytes, 1025);
    return true;
  });
});

test('a large frame in many small chunks is assembled with one copy', () => {
  const body = Buffer.alloc(1 << 20, 7);
  const stream = encodeFrames([body]);
  const originalConcat = Buffer.concat;
  let copiedBytes = 0;
  Buffer.concat = ((list: readonly Uint8Array[], length?: number) => {
    copiedBytes += length ?? list.reduce((n, b) => n + b.length, 0);
    return originalConcat(list, length);
  }) as typeof Buffer.concat;
  try {
    let received: Buffer | undefined;
    const decoder = new FrameDecoder(2 << 20, (bytes, start, end) => {
      received = bytes.subarray(start, end);
    });
    for (let offset = 0; offset < stream.length; offset += 1000) decoder.push(stream.subarray(offset, offset + 1000));
    assert.ok(received?.equals(body));
  } finally {
    Buffer.concat = originalConcat;
  }
  // Linear: the body is copied once, not once per chunk (which would be ~500 GB here).
  assert.equal(copiedBytes, body.length);
});

test('a consumer that stops mid-chunk gets the rest, in order, after resume()', () => {
  const bodies = Array.from({ length: 10 }, (_, i) => new Uint8Array([i]));
  const stream = encodeFrames(bodies);
  const seen: number[] = [];
  let budget = 3;
  const decoder = new FrameDecoder(1024, (bytes, start) => {
    seen.push(bytes[start]!);
    return --budget > 0;
  });
  decoder.push(stream.subarray(0, 20));
  assert.deepEqual(seen, [0, 1, 2]);
  assert.equal(decoder.holding, true);
  decoder.push(stream.subarray(20)); // Arrives while stopped: kept behind the held bytes.
  assert.deepEqual(seen, [0, 1, 2]);
  budget = 100;
  decoder.resume();
  assert.deepEqual(seen, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(decoder.holding, false);
  assert.equal(decoder.bufferedBytes, 0);
});
