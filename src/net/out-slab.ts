/**
 * Memory for outgoing frames. A connection encodes each event-loop turn's
 * frames into one chunk; allocating that chunk (a few KiB, too big for Node's
 * Buffer pool) as a fresh ArrayBuffer every turn was a visible share of an
 * RPC's cost (allocation, external-memory accounting, GC finalization). So
 * chunks are carved from shared slabs, as Node's pool does for small Buffers,
 * and the unused end of the newest chunk goes back to the slab.
 *
 * A chunk pins its slab only until the socket has handed it to the kernel;
 * one that waits longer does so because the peer's kernel buffer is full,
 * which already costs far more than a slab.
 */
import { Buffer } from 'node:buffer';

export const slabBytes = 128 * 1024;
/** Larger chunks get memory of their own. */
export const slabChunkBytesMax = 64 * 1024;

let slab: Buffer = Buffer.allocUnsafeSlow(0);
let slabUsed = 0;
/** The chunk carved last (the only one whose end can go back to the slab). */
let newest: Buffer | undefined;

/** `bytes` of uninitialized memory for outgoing frames. */
export function allocateOutChunk(bytes: number): Buffer {
  if (bytes > slabChunkBytesMax) return Buffer.allocUnsafeSlow(bytes);
  if (slabUsed + bytes > slab.length) {
    slab = Buffer.allocUnsafeSlow(slabBytes);
    slabUsed = 0;
  }
  const chunk = slab.subarray(slabUsed, slabUsed + bytes);
  slabUsed += bytes;
  newest = chunk;
  return chunk;
}

/**
 * The first `used` bytes of `chunk`; when `chunk` is the newest carve of the
 * current slab, the rest is returned to the slab. (`chunk` must not be used
 * beyond `used` afterwards.)
 */
export function trimOutChunk(chunk: Buffer, used: number): Buffer {
  if (chunk === newest) {
    slabUsed -= chunk.length - used;
    newest = undefined;
  }
  return used === chunk.length ? chunk : chunk.subarray(0, used);
}
