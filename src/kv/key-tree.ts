/**
 * The ordered key space: a B+ tree keyed by binary strings (one char per key
 * byte, see bytes.ts), whose order is the unsigned byte order of the keys.
 * sorted-btree's `clone()` is O(1) copy-on-write, which is what lets a
 * snapshot stream a frozen copy while applies keep changing the live tree.
 */
import BTreeModule from 'sorted-btree';
import { bytesFromBinaryString, compareBinaryStrings, type BinaryString } from './bytes.js';
import type { KvEntry } from './types.js';

// sorted-btree is CommonJS; under Node's ESM loader its default import is module.exports.
const BTree = BTreeModule.default;

/**
 * One stored key. Immutable and shared (a snapshot's clone of the tree may
 * hold it): a write replaces the entry. The key is kept only as a binary
 * string; `key` makes its bytes on demand (a small fresh array per read,
 * cheaper than keeping a Uint8Array per key for the life of the key).
 */
export class StoredEntry implements KvEntry {
  constructor(
    readonly keyString: BinaryString,
    readonly value: Uint8Array,
    readonly version: number,
    readonly createRevision: number,
    readonly modRevision: number,
    /** The lease the key is attached to, or 0. */
    readonly lease: number = 0,
    /** The key's own expiry time (entry clock) from a put with a TTL, or 0 for none (leases.ts). */
    readonly expiresAtMs: number = 0,
  ) {}

  get key(): Uint8Array {
    return bytesFromBinaryString(this.keyString);
  }
}

export type KeyTree = InstanceType<typeof BTreeModule.default<BinaryString, StoredEntry>>;

/** Wider nodes than the default 32: fewer levels for large key spaces, cheaper clones of hot paths. */
const KEY_TREE_NODE_SIZE = 64;

export function newKeyTree(): KeyTree {
  return new BTree<BinaryString, StoredEntry>(undefined, compareBinaryStrings, KEY_TREE_NODE_SIZE);
}
