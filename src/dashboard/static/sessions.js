import { html } from './html.js';
import { useEffect, useState } from 'preact/hooks';
import { api } from './api.js';
import { byteSize, timeLeft } from './format.js';

/** One short table of sessions (the largest, or those expiring first). */
function SessionTable({ title, rows, testid }) {
  return html`<figure class="list" data-testid=${testid}><figcaption>${title}</figcaption>
    ${rows.length === 0
      ? html`<p class="empty">none</p>`
      : html`<div class="table-wrap"><table>
          <thead><tr><th scope="col">Session</th><th scope="col">Owner</th><th scope="col">Saved results</th><th scope="col">Bytes</th><th scope="col">Expires</th></tr></thead>
          <tbody>${rows.map((s) => html`<tr data-session=${s.id}><th scope="row">${s.id}</th><td>${s.owner === '' ? '(anonymous)' : s.owner}</td><td>${s.savedResults}</td><td>${byteSize(s.savedResultBytes)}</td><td>${timeLeft(s.expiresInMs)} (TTL ${s.ttlMs / 1000} s)</td></tr>`)}</tbody>
        </table></div>`}
  </figure>`;
}

function LeaseTable({ title, rows, testid }) {
  return html`<figure class="list" data-testid=${testid}><figcaption>${title}</figcaption>
    ${rows.length === 0
      ? html`<p class="empty">none</p>`
      : html`<div class="table-wrap"><table>
          <thead><tr><th scope="col">Lease</th><th scope="col">Keys</th><th scope="col">Expires</th><th scope="col">Granted TTL</th></tr></thead>
          <tbody>${rows.map((l) => html`<tr data-lease=${l.id}><th scope="row">${l.id}</th><td>${l.keyCount}</td><td>${timeLeft(l.ttlMs)}</td><td>${l.grantedTtlMs / 1000} s</td></tr>`)}</tbody>
        </table></div>`}
  </figure>`;
}

function Refused({ part }) {
  return html`<p role="alert" class="error">${part.error.message}</p>`;
}

/** Sessions and leases from the replicated state, refreshed every two seconds. */
export function SessionsView({ onAuthError }) {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    let stopped = false;
    let timer = null;
    const poll = async () => {
      try {
        const answer = await api('GET', '/api/sessions');
        if (!stopped) (setData(answer), setError(null));
      } catch (e) {
        if (!stopped) onAuthError(e) || setError(e.message);
      }
      if (!stopped) timer = setTimeout(poll, 2000);
    };
    poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, []);
  if (data === null) return html`<section aria-busy="true"><p>${error ?? 'Reading the session table…'}</p></section>`;
  const { sessions, leases } = data;
  return html`<section aria-labelledby="sessions-title">
    <h2 id="sessions-title">Sessions and leases</h2>
    ${error !== null ? html`<p role="alert" class="error">${error}</p>` : null}
    <h3>Client sessions</h3>
    ${sessions.error
      ? html`<${Refused} part=${sessions} />`
      : html`<p class="summary" data-testid="session-count">${sessions.count} live sessions, ${byteSize(sessions.tableBytes)} in the session table</p>
          <div class="lists">
            <${SessionTable} title="Most saved results" rows=${sessions.largest} testid="sessions-largest" />
            <${SessionTable} title="Expiring first" rows=${sessions.expiringFirst} testid="sessions-expiring" />
          </div>`}
    <h3>Leases</h3>
    ${leases.error
      ? html`<${Refused} part=${leases} />`
      : html`<p class="summary" data-testid="lease-count">${leases.count}${leases.more ? '+' : ''} leases holding ${leases.keys} keys</p>
          <div class="lists">
            <${LeaseTable} title="Most keys" rows=${leases.largest} testid="leases-largest" />
            <${LeaseTable} title="Expiring first" rows=${leases.expiringFirst} testid="leases-expiring" />
          </div>`}
  </section>`;
}
