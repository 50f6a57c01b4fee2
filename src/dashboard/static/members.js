import { html } from './html.js';
import { useState } from 'preact/hooks';
import { api } from './api.js';

/**
 * Member administration (admin rights once auth is on): add a learner,
 * promote, remove, hand leadership over. Each change asks for a
 * confirmation; a refusal shows the member's own reason (for example a
 * removal that would leave the live voters short of a quorum).
 */
export function useMemberActions() {
  const [notice, setNotice] = useState(null);
  const run = async (question, pending, call, done) => {
    if (!window.confirm(question)) return;
    setNotice({ error: false, text: pending });
    try {
      setNotice({ error: false, text: done(await call()) });
    } catch (e) {
      setNotice({ error: true, text: `${pending.replace(/…$/, '')} refused: ${e.message}` });
    }
  };
  const actions = {
    promote: (name) => run(`Promote the learner ${name} to a voter?`, `Promoting ${name}…`, () => api('POST', '/api/members/promote', { name }), () => `${name} is a voter now.`),
    remove: (name) => run(`Remove ${name} from the cluster? It stops once it learns it was removed.`, `Removing ${name}…`, () => api('POST', '/api/members/remove', { name }), () => `${name} was removed.`),
    add: (member) =>
      run(`Add ${member.name} (${member.peerUrl}) as a learner?`, `Adding ${member.name}…`, () => api('POST', '/api/members/add', member), () =>
        `${member.name} was added as a learner: start it with --initial-cluster-state existing, then promote it once it has caught up.`),
    transfer: (from, to) =>
      run(`Hand leadership from ${from} to ${to || 'the most caught-up member'}?`, 'Transferring leadership…', () => api('POST', '/api/leader/transfer', { to }), (a) =>
        `Leadership moved from ${a.transfer.previousLeader} to ${a.transfer.leader}.`),
  };
  return { notice, actions };
}

/** The buttons of one member's row. */
export function MemberButtons({ member, actions }) {
  return html`<td class="manage">
    ${member.voter ? null : html`<button type="button" aria-label=${`Promote ${member.name}`} onClick=${() => actions.promote(member.name)}>Promote</button>`}
    <button type="button" class="danger" aria-label=${`Remove ${member.name}`} onClick=${() => actions.remove(member.name)}>Remove</button>
  </td>`;
}

/** Adding a member: always as a learner (promote it once it has caught up), as etcd advises. */
export function AddMemberForm({ actions }) {
  const [name, setName] = useState('');
  const [peerUrl, setPeerUrl] = useState('');
  const [clientUrl, setClientUrl] = useState('');
  const submit = (event) => {
    event.preventDefault();
    actions.add({ name, peerUrl, clientUrl });
  };
  return html`<form class="inline add-member" onSubmit=${submit} aria-labelledby="add-member-title">
    <h3 id="add-member-title">Add a learner</h3>
    <label for="member-name">Name</label><input id="member-name" value=${name} onInput=${(e) => setName(e.target.value)} required />
    <label for="member-peer-url">Peer URL</label><input id="member-peer-url" placeholder="tcp://host:7100" value=${peerUrl} onInput=${(e) => setPeerUrl(e.target.value)} required />
    <label for="member-client-url">Client URL</label><input id="member-client-url" placeholder="optional" value=${clientUrl} onInput=${(e) => setClientUrl(e.target.value)} />
    <button type="submit">Add learner</button>
  </form>`;
}

export function Notice({ notice }) {
  if (notice === null) return null;
  return notice.error ? html`<p role="alert" class="error" data-testid="member-notice">${notice.text}</p>` : html`<p role="status" data-testid="member-notice">${notice.text}</p>`;
}
