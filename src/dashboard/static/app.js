// The Concord dashboard: plain ES modules, preact + htm from the member
// (import map in the page), no build step. All data reaches the DOM as text
// through preact, which escapes it.
import { render } from 'preact';
import { useState, useEffect } from 'preact/hooks';
import { api } from './api.js';
import { html } from './html.js';
import { ClusterView } from './cluster.js';
import { KeysView, LiveView } from './keys.js';
import { LoadView } from './load.js';
import { SessionsView } from './sessions.js';

const views = [
  { id: 'cluster', label: 'Cluster', View: ClusterView },
  { id: 'keys', label: 'Keys', View: KeysView },
  { id: 'live', label: 'Live prefix', View: LiveView },
  { id: 'sessions', label: 'Sessions', View: SessionsView },
  { id: 'load', label: 'Load', View: LoadView },
];

function Login({ onDone, reason }) {
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState(null);
  const submit = async (event) => {
    event.preventDefault();
    try {
      const answer = await api('POST', '/api/login', { user, password });
      onDone(answer.user);
    } catch (e) {
      setError(e.message);
    }
  };
  return html`<form class="login" onSubmit=${submit} aria-labelledby="login-title">
    <h2 id="login-title">Log in</h2>
    <p>${reason}</p>
    <label for="login-user">User</label><input id="login-user" autocomplete="username" value=${user} onInput=${(e) => setUser(e.target.value)} required />
    <label for="login-password">Password</label><input id="login-password" type="password" autocomplete="current-password" value=${password} onInput=${(e) => setPassword(e.target.value)} required />
    <div class="actions"><button type="submit">Log in</button></div>
    ${error !== null ? html`<p role="alert" class="error">${error}</p>` : null}
  </form>`;
}

function App() {
  const [view, setView] = useState(location.hash.slice(1) || 'cluster');
  const [user, setUser] = useState(null);
  const [login, setLogin] = useState(null);
  useEffect(() => {
    const onHash = () => setView(location.hash.slice(1) || 'cluster');
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  // A browser certificate the member's listener verified logs in by itself (its CN is the user).
  useEffect(() => {
    api('GET', '/api/status').then((answer) => answer.user && setUser(answer.user), () => undefined);
  }, []);
  // An API answer of 401 means auth is on and nobody is logged in (or the login expired).
  // A 403 on a write is shown where it happened; on a read with nobody logged in, ask to log in.
  const onAuthError = (error, isWrite = false) => {
    if (error.status === 401 || (error.status === 403 && !isWrite && user === null)) {
      setLogin(error.status === 401 ? 'Authentication is enabled on this cluster.' : `Not allowed anonymously: ${error.message}`);
      return true;
    }
    return false;
  };
  const logout = async () => {
    await api('POST', '/api/logout').catch(() => undefined);
    setUser(null);
    setLogin('Logged out.');
  };
  const current = views.find((v) => v.id === view) ?? views[0];
  return html`<header>
      <h1>Concord</h1>
      <nav aria-label="Views"><ul>${views.map(
        (v) => html`<li><a href=${`#${v.id}`} aria-current=${v.id === current.id ? 'page' : null}>${v.label}</a></li>`,
      )}</ul></nav>
      <div class="who">${user !== null ? html`<span data-testid="user">${user}</span> <button type="button" onClick=${logout}>Log out</button>` : null}</div>
    </header>
    <main>
      ${login !== null
        ? html`<${Login} reason=${login} onDone=${(u) => (setUser(u), setLogin(null))} />`
        : html`<${current.View} key=${current.id + (user ?? '')} onAuthError=${onAuthError} />`}
    </main>`;
}

const root = document.getElementById('app');
root.textContent = ''; // the "Loading…" placeholder
render(html`<${App} />`, root);
