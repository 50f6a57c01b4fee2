/**
 * The cluster ID (issue 12 §1): a random 128-bit value, hex, chosen when the
 * cluster is bootstrapped and kept in each member's member.json. Every hello
 * carries it; a member refuses the frames of a peer whose hello names another
 * cluster, so two clusters with the same member names (a copied config, a
 * reused address) never mix their Raft traffic.
 *
 * How members agree without a leader: each member bootstrapping a new
 * cluster draws a candidate and sends it in its bootstrap-probe hellos
 * (bootstrap-probe.ts). A running member's answer carries its settled ID,
 * which wins; otherwise the smallest candidate among this member's and the
 * probing peers' answers wins, so members that start together agree. A
 * member whose data directory has no ID (made before cluster IDs, or started
 * with --initial-cluster-state existing) takes the ID of the first member
 * that admits it, and keeps it.
 */
import type { RandomSource } from '../common/rng.js';

/** 32 lowercase hex digits. */
export const clusterIdPattern = /^[0-9a-f]{32}$/;

export function newClusterId(random: RandomSource): string {
  let out = '';
  for (let i = 0; i < 8; i++) out += random.nextInt(0x10000).toString(16).padStart(4, '0');
  return out;
}

/** The ID a bootstrapping member settles on (see the file comment). */
export function settleClusterId(own: string, answers: readonly { readonly probing: boolean; readonly clusterId?: string | undefined }[]): string {
  const settled = answers.find((a) => !a.probing && a.clusterId !== undefined)?.clusterId;
  if (settled !== undefined) return settled;
  let best = own;
  for (const a of answers) if (a.clusterId !== undefined && a.clusterId < best) best = a.clusterId;
  return best;
}
