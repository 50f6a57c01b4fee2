import { html } from './html.js';
import { useEffect, useState } from 'preact/hooks';
import { api } from './api.js';
import { ago, clockTime } from './format.js';
import { AddMemberForm, MemberButtons, Notice, useMemberActions } from './members.js';

/** The cluster view: every member's report, refreshed every second. */
export function ClusterView({ onAuthError }) {
  const [cluster, setCluster] = useState(null);
  const [error, setError] = useState(null);
  const [target, setTarget] = useState('');
  const { notice, actions } = useMemberActions();

  useEffect(() => {
    let stopped = false;
    let timer = null;
    const poll = async () => {
      try {
        const answer = await api('GET', '/api/status');
        if (!stopped) {
          setCluster(answer.cluster);
          setError(null);
        }
      } catch (e) {
        if (!stopped) (onAuthError(e) || setError(e.message));
      }
      if (!stopped) timer = setTimeout(poll, 1000);
    };
    poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, []);

  const transfer = () => actions.transfer(cluster.leader, target);

  if (cluster === null) return html`<section aria-busy="true"><p>${error ?? 'Asking the members…'}</p></section>`;
  const leaders = cluster.members.filter((m) => m.role === 'leader');
  return html`<section aria-labelledby="cluster-title">
    <h2 id="cluster-title">Cluster</h2>
    <p class="summary" data-testid="leader">Leader: <strong>${cluster.leader ?? 'none'}</strong> · ${cluster.members.filter((m) => m.up).length} of ${cluster.members.length} members up</p>
    ${error !== null ? html`<p role="alert" class="error">${error}</p>` : null}
    <div class="table-wrap"><table class="members">
      <thead><tr><th scope="col">Member</th><th scope="col">Role</th><th scope="col">Health</th><th scope="col">Term</th><th scope="col">Commit</th><th scope="col">Applied</th><th scope="col">Trailing</th><th scope="col">Version</th><th scope="col">URLs</th><th scope="col">Manage</th></tr></thead>
      <tbody>${cluster.members.map(
        (m) => html`<tr data-member=${m.name} data-role=${m.up ? m.role : 'down'} class=${m.up ? m.role : 'down'}>
          <th scope="row">${m.name}${m.voter ? '' : ' (learner)'}</th>
          <td>${m.up ? m.role : 'down'}</td>
          <td>${m.up ? (m.ready ? 'ready' : 'not ready') : html`<span title=${m.error ?? ''}>down, ${m.lastSeenMs === null ? 'not seen since the dashboard started' : `last seen ${ago(cluster.nowMs - m.lastSeenMs)}`}</span>`}</td>
          <td>${m.term ?? '–'}</td><td>${m.commitIndex ?? '–'}</td><td>${m.appliedIndex ?? '–'}</td><td>${m.trailing ?? '–'}</td>
          <td>${m.version ?? '–'}</td>
          <td class="urls">client ${m.clientUrl ?? '?'}<br/>peer ${m.peerUrl}</td>
          <${MemberButtons} member=${m} actions=${actions} />
        </tr>`,
      )}</tbody>
    </table></div>
    ${leaders.length === 1
      ? html`<div class="actions"><label for="transfer-to">Transfer leadership to</label>
          <select id="transfer-to" value=${target} onChange=${(e) => setTarget(e.target.value)}>
            <option value="">the most caught-up member</option>
            ${cluster.members.filter((m) => m.up && m.voter && m.role !== 'leader').map((m) => html`<option value=${m.name}>${m.name}</option>`)}
          </select>
          <button type="button" onClick=${transfer}>Transfer</button></div>`
      : null}
    <${Notice} notice=${notice} />
    <${AddMemberForm} actions=${actions} />
    <h3>Last leader changes</h3>
    ${cluster.leaderChanges.length === 0
      ? html`<p>None seen since this page's member started its dashboard.</p>`
      : html`<ul class="changes">${cluster.leaderChanges.map((c) => html`<li>${clockTime(c.atMs)}: ${c.from ?? 'none'} → ${c.to ?? 'none'}</li>`)}</ul>`}
  </section>`;
}
