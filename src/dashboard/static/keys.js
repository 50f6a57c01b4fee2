import { html } from './html.js';
import { useEffect, useState } from 'preact/hooks';
import { api, subscribePrefix } from './api.js';
import { base64ToBytes, bytesToText, hexDump, prettyJson } from './format.js';

/** One folder of the key tree; its children are scanned when it is first opened. */
function Folder({ prefix, label, count, onPick, selected, onAuthError, refresh }) {
  const [open, setOpen] = useState(prefix === '');
  const [level, setLevel] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    if (!open) return;
    api('GET', `/api/tree?prefix=${encodeURIComponent(prefix)}`).then(
      (answer) => {
        setLevel(answer);
        setError(null);
      },
      (e) => onAuthError(e) || setError(e.message),
    );
  }, [open, prefix, refresh]);
  const toggle = () => setOpen(!open);
  // Plain nested lists of buttons (Tab and Enter), not an ARIA tree: that role promises arrow-key navigation.
  return html`<li>
    ${prefix === '' ? null : html`<button type="button" class="folder" aria-expanded=${open} onClick=${toggle}>${open ? '▾' : '▸'} ${label} <span class="count">(${count})</span></button>`}
    ${open
      ? html`<ul>
          ${error !== null ? html`<li role="alert" class="error">${error}</li>` : null}
          ${level === null ? html`<li>…</li>` : null}
          ${level?.folders.map((f) => html`<${Folder} key=${f.name} prefix=${f.name} label=${f.name.slice(prefix.length)} count=${f.count} onPick=${onPick} selected=${selected} onAuthError=${onAuthError} refresh=${refresh} />`)}
          ${level?.keys.map(
            (k) => html`<li key=${k}><button type="button" class=${`key${k === selected ? ' selected' : ''}`} data-key=${k} aria-current=${k === selected} onClick=${() => onPick(k)}>${k.slice(prefix.length)}</button></li>`,
          )}
          ${level !== null && level.folders.length === 0 && level.keys.length === 0 ? html`<li class="empty">no keys</li>` : null}
          ${level?.truncated ? html`<li class="empty">(first keys only)</li>` : null}
        </ul>`
      : null}
  </li>`;
}

/** One key: its value as text, pretty JSON or hex, its versions, and edit / delete. */
function KeyPanel({ name, onAuthError, onChanged }) {
  const [kv, setKv] = useState(null);
  const [mode, setMode] = useState('text');
  const [draft, setDraft] = useState('');
  const [message, setMessage] = useState(null);
  const load = () =>
    api('GET', `/api/key?key=${encodeURIComponent(name)}`).then(
      (answer) => {
        const bytes = base64ToBytes(answer.value);
        const text = bytesToText(bytes);
        setKv({ ...answer, bytes, text });
        setDraft(text ?? '');
        setMode(text === null ? 'hex' : prettyJson(text) !== null ? 'json' : 'text');
      },
      (e) => onAuthError(e) || setMessage({ error: true, text: e.message }),
    );
  useEffect(() => {
    setKv(null);
    setMessage(null);
    load();
  }, [name]);
  const save = async (event) => {
    event.preventDefault();
    try {
      const answer = await api('PUT', '/api/key', { key: name, value: draft });
      setMessage({ error: false, text: `Saved (version ${answer.written?.version ?? '?'}).` });
      await load();
      onChanged();
    } catch (e) {
      if (!onAuthError(e, true)) setMessage({ error: true, text: `Not saved: ${e.message}` });
    }
  };
  const remove = async () => {
    if (!window.confirm(`Delete ${name}?`)) return;
    try {
      await api('DELETE', '/api/key', { key: name });
      setMessage({ error: false, text: 'Deleted.' });
      onChanged();
    } catch (e) {
      if (!onAuthError(e, true)) setMessage({ error: true, text: `Not deleted: ${e.message}` });
    }
  };
  const shown = kv === null ? '' : mode === 'hex' ? hexDump(kv.bytes) : mode === 'json' ? prettyJson(kv.text) ?? kv.text : kv.text ?? '(not UTF-8 text: see hex)';
  return html`<section class="key-panel" aria-labelledby="key-title">
    <h3 id="key-title" class="key-name">${name}</h3>
    ${message !== null ? html`<p role=${message.error ? 'alert' : 'status'} class=${message.error ? 'error' : 'ok'} data-testid="key-message">${message.text}</p>` : null}
    ${kv === null
      ? null
      : html`<p class="meta">version ${kv.version} · created at revision ${kv.createRevision} · modified at revision ${kv.modRevision} · ${kv.bytes.length} bytes</p>
        <div class="modes" role="group" aria-label="Show the value as">
          ${['text', 'json', 'hex'].map((m) => html`<button type="button" aria-pressed=${mode === m} onClick=${() => setMode(m)} disabled=${m === 'json' && prettyJson(kv.text) === null}>${m}</button>`)}
        </div>
        <pre class="value" data-testid="value">${shown}</pre>
        <form onSubmit=${save}>
          <label for="edit-value">New value</label>
          <textarea id="edit-value" rows="5" value=${draft} onInput=${(e) => setDraft(e.target.value)}></textarea>
          <div class="actions"><button type="submit">Save</button> <button type="button" class="danger" onClick=${remove}>Delete</button></div>
        </form>`}
  </section>`;
}

export function KeysView({ onAuthError }) {
  const [prefix, setPrefix] = useState('');
  const [search, setSearch] = useState('');
  const [selected, setSelected] = useState(null);
  const [refresh, setRefresh] = useState(0);
  const [newKey, setNewKey] = useState('');
  const [newValue, setNewValue] = useState('');
  const [message, setMessage] = useState(null);
  const create = async (event) => {
    event.preventDefault();
    try {
      await api('PUT', '/api/key', { key: newKey, value: newValue });
      setMessage(null);
      setSelected(newKey);
      setRefresh(refresh + 1);
    } catch (e) {
      if (!onAuthError(e, true)) setMessage(`Not saved: ${e.message}`);
    }
  };
  return html`<section aria-labelledby="keys-title" class="keys">
    <h2 id="keys-title">Keys</h2>
    <form class="inline" onSubmit=${(e) => (e.preventDefault(), setPrefix(search), setRefresh(refresh + 1))}>
      <label for="key-search">Prefix</label>
      <input id="key-search" type="search" value=${search} placeholder="e.g. config/" onInput=${(e) => setSearch(e.target.value)} />
      <button type="submit">Browse</button>
      <button type="button" onClick=${() => setRefresh(refresh + 1)}>Refresh</button>
    </form>
    <div class="split">
      <nav aria-label="Key tree" class="tree"><ul>
        <${Folder} key=${prefix} prefix=${prefix} label=${prefix} count=${0} onPick=${setSelected} selected=${selected} onAuthError=${onAuthError} refresh=${refresh} />
      </ul></nav>
      <div>
        ${selected !== null ? html`<${KeyPanel} name=${selected} onAuthError=${onAuthError} onChanged=${() => setRefresh(refresh + 1)} />` : html`<p>Pick a key.</p>`}
        <form class="new-key" onSubmit=${create}>
          <h3>New key</h3>
          <label for="new-key">Key</label><input id="new-key" value=${newKey} onInput=${(e) => setNewKey(e.target.value)} required />
          <label for="new-value">Value</label><textarea id="new-value" rows="3" value=${newValue} onInput=${(e) => setNewValue(e.target.value)}></textarea>
          <div class="actions"><button type="submit">Put</button></div>
          ${message !== null ? html`<p role="alert" class="error">${message}</p>` : null}
        </form>
      </div>
    </div>
  </section>`;
}

/** Every key under a prefix and its latest changes, as they happen (api.js subscribePrefix: the member's watch). */
export function LiveView({ onAuthError }) {
  const [input, setInput] = useState('');
  const [prefix, setPrefix] = useState(null);
  const [view, setView] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    if (prefix === null) return undefined;
    setView(null);
    setError(null);
    return subscribePrefix(
      prefix,
      (next) => {
        setView(next);
        setError(null);
      },
      (e) => onAuthError(e) || setError(e.message),
    );
  }, [prefix]);
  return html`<section aria-labelledby="live-title">
    <h2 id="live-title">Live prefix</h2>
    <form class="inline" onSubmit=${(e) => (e.preventDefault(), setPrefix(input))}>
      <label for="live-prefix">Prefix</label>
      <input id="live-prefix" value=${input} placeholder="empty: every key" onInput=${(e) => setInput(e.target.value)} />
      <button type="submit">Follow</button>
    </form>
    ${error !== null ? html`<p role="alert" class="error">${error}</p>` : null}
    ${prefix === null
      ? html`<p>Choose a prefix to follow; changes show as they happen.</p>`
      : view === null
        ? html`<p>…</p>`
        : html`<p role="status" data-testid="live-status" data-revision=${view.revision}>Following ${prefix === '' ? 'every key' : prefix}: ${view.entries.length} keys${view.truncated ? ' (first keys only)' : ''}, up to revision ${view.revision}.</p>
        <div class="table-wrap"><table class="live">
          <thead><tr><th scope="col">Key</th><th scope="col">Value</th><th scope="col">Version</th><th scope="col">Revision</th></tr></thead>
          <tbody>${view.entries.map((e) => html`<tr key=${e.key} data-key=${e.key} class=${view.changed.has(e.key) ? 'changed' : ''}><th scope="row">${e.key}</th><td class="value-cell">${e.preview}</td><td>${e.version}</td><td>${e.modRevision}</td></tr>`)}</tbody>
        </table></div>
        <h3>Changes</h3>
        ${view.recent.length === 0
          ? html`<p class="empty">none since you started following</p>`
          : html`<ol class="changes-log" data-testid="changes" aria-live="polite">${view.recent.map(
              (e) => html`<li key=${`${e.modRevision} ${e.key}`} data-type=${e.type} data-key=${e.key} data-revision=${e.modRevision}>revision ${e.modRevision}: <strong>${e.type === 'put' ? 'put' : 'delete'}</strong> <code>${e.key}</code>${e.type === 'put' ? html` = <span class="value-cell">${e.preview}</span>` : null}</li>`,
            )}</ol>`}`}
  </section>`;
}
