/**
 * The health endpoints of the metrics listener, shaped like etcd's so that
 * probes and load balancers written for etcd work unchanged:
 * - `/livez`: the process loop runs (the Raft host ticked recently);
 * - `/readyz`: this member can serve (it knows a leader of its current term,
 *   has applied what it knows committed, its storage works);
 * - `/health`: etcd's JSON `{"health":"true","reason":""}`.
 * Each answers 200 when every check passes, 503 otherwise. `?verbose` lists
 * each check (`[+]name ok` / `[-]name failed: reason`), `?exclude=NAME`
 * (repeatable) skips one, as etcd's.
 */

/** What the checks read; supplied by the member (see server.ts). */
export interface HealthInputs {
  /** The leader this member knows in its current term (the core forgets it when the term moves), or null. */
  leaderId(): string | null;
  commitIndex(): number;
  appliedIndex(): number;
  storageFailed(): boolean;
  /** Milliseconds since the Raft host's last tick (its loop turns), on the member's clock. */
  sinceLastTickMs(): number;
  /** Longest gap between ticks that still counts as live. */
  readonly liveTickGapMaxMs: number;
}

export interface CheckResult {
  readonly name: string;
  /** Null when the check passed. */
  readonly failure: string | null;
}

type Check = { name: string; run(inputs: HealthInputs): string | null };

const loopCheck: Check = {
  name: 'loop',
  run: (h) => {
    const gapMs = h.sinceLastTickMs();
    return gapMs <= h.liveTickGapMaxMs ? null : `the Raft loop has not ticked for ${Math.round(gapMs)} ms (bound ${h.liveTickGapMaxMs} ms)`;
  },
};

const storageCheck: Check = {
  name: 'storage',
  run: (h) => (h.storageFailed() ? 'the storage failed; this member no longer takes part (see its log)' : null),
};

const leaderCheck: Check = {
  name: 'leader',
  run: (h) => (h.leaderId() === null ? 'no leader known in the current term' : null),
};

const appliedCheck: Check = {
  name: 'applied',
  run: (h) => {
    const applied = h.appliedIndex();
    const commit = h.commitIndex();
    return applied >= commit ? null : `applied index ${applied} is behind the known commit index ${commit}`;
  },
};

export const livezChecks: readonly Check[] = [loopCheck];
export const readyzChecks: readonly Check[] = [loopCheck, storageCheck, leaderCheck, appliedCheck];

export interface HttpAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

/** Runs `checks` minus the excluded ones; the answer as etcd's /livez and /readyz give it. */
export function runChecks(path: string, checks: readonly Check[], inputs: HealthInputs, query: URLSearchParams): HttpAnswer {
  const excluded = new Set(query.getAll('exclude'));
  const verbose = query.has('verbose');
  const lines: string[] = [];
  let failed = false;
  for (const check of checks) {
    if (excluded.has(check.name)) {
      lines.push(`[+]${check.name} excluded: ok`);
      continue;
    }
    const failure = check.run(inputs);
    if (failure === null) lines.push(`[+]${check.name} ok`);
    else {
      failed = true;
      lines.push(`[-]${check.name} failed: ${failure}`);
    }
  }
  const known = new Set(checks.map((c) => c.name));
  const unknown = [...excluded].filter((name) => !known.has(name));
  if (unknown.length > 0) lines.push(`warn: some health checks cannot be excluded: no matches for ${unknown.map((n) => `"${n}"`).join(', ')}`);
  const verdict = failed ? `${path} check failed` : 'ok';
  // Like etcd: the list when asked for, or always when something failed (the reason is the useful part).
  const body = verbose || failed ? `${lines.join('\n')}\n${verdict}\n` : `${verdict}\n`;
  return { status: failed ? 503 : 200, contentType: 'text/plain; charset=utf-8', body };
}

/** etcd's /health: `{"health":"true","reason":""}` (200) or `{"health":"false","reason":"RAFT NO LEADER"}` (503). */
export function healthAnswer(inputs: HealthInputs): HttpAnswer {
  let reason = '';
  if (inputs.storageFailed()) reason = 'STORAGE FAILED';
  else if (inputs.leaderId() === null) reason = 'RAFT NO LEADER';
  else if (loopCheck.run(inputs) !== null) reason = 'LOOP STALLED';
  return {
    status: reason === '' ? 200 : 503,
    contentType: 'application/json',
    body: JSON.stringify({ health: reason === '' ? 'true' : 'false', reason }) + '\n',
  };
}

/** The answer for a health path, or null when `pathname` is not one. */
export function healthEndpoint(pathname: string, query: URLSearchParams, inputs: HealthInputs): HttpAnswer | null {
  switch (pathname) {
    case '/livez':
      return runChecks('livez', livezChecks, inputs, query);
    case '/readyz':
      return runChecks('readyz', readyzChecks, inputs, query);
    case '/health':
      return healthAnswer(inputs);
    default:
      return null;
  }
}
