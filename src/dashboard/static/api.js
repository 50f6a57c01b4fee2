// The page's calls to the member's /api/. Writes send JSON and the
// X-Concord-Dashboard header (the server refuses writes without it: CSRF).

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function api(method, path, body) {
  const init = { method, headers: {}, credentials: 'same-origin' };
  if (method !== 'GET') {
    init.headers['x-concord-dashboard'] = '1';
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body ?? {});
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiError(0, 'unreachable', `the member did not answer: ${error.message}`);
  }
  const json = await response.json().catch(() => ({}));
  if (!response.ok) {
    const e = json.error ?? {};
    throw new ApiError(response.status, e.code ?? 'unknown', e.message ?? `HTTP ${response.status}`);
  }
  return json;
}

/** Changes the live view lists (newest first) at most. */
export const recentChangesMax = 50;

/**
 * Follows every key under `prefix` through the member's watch
 * (`/api/watch`, Server-Sent Events). Calls `onChange` with the keys (in key
 * order), the recent changes (newest first) and the revision every change
 * up to which is shown, after the snapshot and after each batch of changes.
 * The EventSource reconnects by itself after a dropped connection, from the
 * last revision it was sent (Last-Event-ID): nothing is missed. Returns a
 * function that stops it.
 */
export function subscribePrefix(prefix, onChange, onError) {
  const source = new EventSource(`/api/watch?prefix=${encodeURIComponent(prefix)}`);
  const entries = new Map();
  let recent = [];
  let truncated = false;
  let keysMax = Infinity;
  let revision = 0;
  const emit = (changed) => onChange({ entries: [...entries.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)), recent, truncated, revision, changed });
  source.addEventListener('snapshot', (message) => {
    const snapshot = JSON.parse(message.data);
    entries.clear();
    for (const e of snapshot.entries) entries.set(e.key, e);
    ({ truncated, keysMax, revision } = snapshot);
    recent = [];
    emit(new Set());
  });
  source.addEventListener('events', (message) => {
    const batch = JSON.parse(message.data);
    const changed = new Set();
    for (const e of batch.events) {
      // The snapshot may already hold a change the first events repeat: the highest revision wins.
      const known = entries.get(e.key);
      if (known !== undefined && known.modRevision >= e.modRevision) continue;
      if (e.type === 'delete') entries.delete(e.key);
      else if (known !== undefined || entries.size < keysMax) entries.set(e.key, e);
      else truncated = true;
      changed.add(e.key);
      recent = [e, ...recent].slice(0, recentChangesMax);
    }
    revision = batch.revision;
    emit(changed);
  });
  source.addEventListener('progress', (message) => {
    revision = JSON.parse(message.data).revision;
    emit(new Set());
  });
  source.addEventListener('failure', (message) => {
    // A refusal (auth, permission, a bound): reconnecting would be refused again.
    source.close();
    const e = JSON.parse(message.data);
    onError(new ApiError(e.status, e.code, e.message));
  });
  source.addEventListener('error', () => {
    if (source.readyState === EventSource.CLOSED) onError(new ApiError(0, 'unreachable', 'the live view lost the member'));
  });
  return () => source.close();
}
