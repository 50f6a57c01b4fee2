/**
 * The ordered key space: a B+ tree keyed by bytes in unsigned byte order.
 * sorted-btree's `clone()` is O(1) copy-on-write, which is what lets a
 * snapshot stream a frozen copy while applies keep changing the live tree.
 */
import BTreeModule from 'sorted-btree';
import { compareBytes } from './bytes.js';
import type { KvEntry } from './types.js';

// sorted-btree is CommonJS; under Node's ESM loader its default import is module.exports.
const BTree = BTreeModule.default;

export type KeyTree = InstanceType<typeof BTreeModule.default<Uint8Array, KvEntry>>;

/** Wider nodes than the default 32: fewer levels for large key spaces, cheaper clones of hot paths. */
const KEY_TREE_NODE_SIZE = 64;

export function newKeyTree(): KeyTree {
  return new BTree<Uint8Array, KvEntry>(undefined, compareBytes, KEY_TREE_NODE_SIZE);
}
