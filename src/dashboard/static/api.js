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

/**
 * Calls `onEntries` with every key under `prefix`, now and on each change.
 * Polls a scan every second until the watch API exists: this is the one
 * place to switch to a watch stream. Returns a function that stops it.
 */
export function subscribePrefix(prefix, onEntries, onError) {
  let stopped = false;
  let timer = null;
  const poll = async () => {
    try {
      const answer = await api('GET', `/api/prefix?prefix=${encodeURIComponent(prefix)}`);
      if (!stopped) onEntries(answer.entries, answer.truncated);
    } catch (error) {
      if (!stopped) onError(error);
    }
    if (!stopped) timer = setTimeout(poll, 1000);
  };
  poll();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
