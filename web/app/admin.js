// Admin pages: users, API keys, the audit log and libraries with their scan tasks.

import { api, currentUser } from './api.js';
import { h, clear, field, select, errorBox, showError, fmtDate, toast, pager, NEWER_OLDER } from './dom.js';
import { adminListeningView } from './listening.js';

const enc = encodeURIComponent;

function tabs(active) {
  const t = [['users', 'Users'], ['sessions', 'Sessions'], ['listening', 'Listening'], ['keys', 'API keys'], ['audit', 'Audit log'], ['libraries', 'Libraries'], ['backups', 'Backups'], ['security', 'Security'], ['settings', 'Settings']];
  return h('nav', { class: 'tabs', 'aria-label': 'Administration' },
    t.map(([id, label]) => h('a', { href: `#/admin/${id}`, 'aria-current': id === active ? 'page' : null, text: label })));
}

function table(headers, rows) {
  return h('table', { class: 'table' },
    h('thead', {}, h('tr', {}, headers.map((t) => h('th', { scope: 'col', text: t })))),
    h('tbody', {}, rows));
}

const td = (label, content) => h('td', { 'data-label': label }, content);

export async function adminView(root, section, params) {
  document.title = 'Admin · Shelfwarden';
  clear(root).append(h('h1', { text: 'Administration' }), tabs(section));
  const body = h('div');
  root.append(body);
  if (section === 'keys') return keysView(body);
  if (section === 'sessions') return sessionsView(body);
  if (section === 'listening') return adminListeningView(body, params);
  if (section === 'backups') return backupsView(body);
  if (section === 'security') return securityView(body);
  if (section === 'settings') return settingsView(body);
  if (section === 'audit') return auditView(body, params);
  if (section === 'libraries') return librariesView(body);
  return usersView(body);
}

const PERMS = [['download', 'Download'], ['update', 'Edit items'], ['delete', 'Delete items'], ['upload', 'Upload'],
  ['accessExplicitContent', 'Explicit content'], ['accessAllLibraries', 'All libraries'], ['accessAllTags', 'All tags']];

/// Type, permissions, library access and allowed networks of one user.
async function userEditor(u, done) {
  const err = errorBox();
  const { libraries } = await api('/api/libraries');
  const perms = u.permissions || {};
  const form = h('form', { class: 'card', 'aria-labelledby': 'eu-h' },
    h('h2', { id: 'eu-h', text: `Edit ${u.username}` }),
    u.type === 'root' ? null : select('Type', ['user', 'admin', 'guest'].map((t) => ({ value: t, label: t, selected: t === u.type })), { name: 'type' }),
    h('fieldset', {}, h('legend', { text: 'Permissions' }),
      PERMS.map(([k, l]) => h('label', { class: 'check' }, h('input', { type: 'checkbox', name: `perm-${k}`, checked: !!perms[k] }), l))),
    h('fieldset', {}, h('legend', { text: 'Libraries (when not all)' }),
      libraries.map((l) => h('label', { class: 'check' }, h('input', {
        type: 'checkbox', name: 'lib', value: l.id, checked: (u.librariesAccessible || []).includes(l.id),
      }), l.name))),
    field('Tags', { name: 'tags', value: (u.itemTagsSelected || []).join(', '), placeholder: 'e.g. kids, family' },
      'When "All tags" is off: the only tags whose books this user sees, or, with the box below, the tags hidden from them.'),
    h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'tags-deny', checked: !!perms.selectedTagsNotAccessible }),
      'Hide books with these tags instead'),
    field('Allowed networks', { name: 'networks', value: (u.allowedNetworks || []).join(', '), placeholder: 'e.g. 192.168.1.0/24 (empty: anywhere the server allows)' },
      'Comma-separated addresses or CIDR ranges this user may sign in from.'),
    err,
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'primary', text: 'Save' }),
      h('button', { type: 'button', text: 'Cancel', onclick: () => done(false) })));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = new FormData(form);
    const body = {
      permissions: {
        ...Object.fromEntries(PERMS.map(([k]) => [k, f.get(`perm-${k}`) === 'on'])),
        selectedTagsNotAccessible: f.get('tags-deny') === 'on',
      },
      librariesAccessible: f.getAll('lib'),
      itemTagsSelected: String(f.get('tags') || '').split(',').map((x) => x.trim()).filter(Boolean),
      allowedNetworks: String(f.get('networks') || '').split(',').map((x) => x.trim()).filter(Boolean),
    };
    if (f.get('type')) body.type = f.get('type');
    try {
      await api(`/api/users/${enc(u.id)}`, { method: 'PATCH', body });
      toast(`${u.username} saved.`);
      done(true);
    } catch (ex) { showError(err, ex); }
  });
  return form;
}

async function usersView(root) {
  const err = errorBox();
  const list = h('div');
  const editor = h('div');
  const edit = async (u) => {
    clear(editor).append(await userEditor(u, (saved) => { clear(editor); if (saved) load(); }));
    editor.querySelector('h2').scrollIntoView({ block: 'nearest' });
  };
  const load = async () => {
    const { users } = await api('/api/users');
    clear(list).append(table(['User', 'Type', 'Status', 'Last seen', ''], users.map((u) => h('tr', {},
      td('User', u.username), td('Type', u.type), td('Status', u.isActive ? 'Active' : 'Disabled'),
      td('Last seen', fmtDate(u.lastSeen)),
      h('td', {}, h('button', { type: 'button', class: 'small', 'aria-label': `Edit ${u.username}`, onclick: () => edit(u).catch((ex) => showError(err, ex)) }, 'Edit'),
        ' ', u.id === (currentUser() || {}).id || u.type === 'root' ? null : h('button', {
        type: 'button', class: 'small',
        onclick: async () => {
          try {
            await api(`/api/users/${enc(u.id)}`, { method: 'PATCH', body: { isActive: !u.isActive } });
            toast(`${u.username} ${u.isActive ? 'disabled' : 'enabled'}.`);
            load();
          } catch (ex) { showError(err, ex); }
        },
      }, u.isActive ? 'Disable' : 'Enable'))))));
  };
  const form = h('form', { class: 'card', 'aria-labelledby': 'nu-h' },
    h('h2', { id: 'nu-h', text: 'Create a user' }),
    h('div', { class: 'row-fields' },
      field('Username', { name: 'username', required: true, autocomplete: 'off' }),
      field('Password', { name: 'password', type: 'password', required: true, minlength: 12, autocomplete: 'new-password' }),
      select('Type', [{ value: 'user', label: 'User' }, { value: 'admin', label: 'Admin' }, { value: 'guest', label: 'Guest' }], { name: 'type' })),
    err,
    h('button', { type: 'submit', class: 'primary', text: 'Create user' }));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.hidden = true;
    const f = new FormData(form);
    try {
      await api('/api/users', { method: 'POST', body: { username: f.get('username').trim(), password: f.get('password'), type: f.get('type'), isActive: true } });
      toast(`User ${f.get('username')} created.`);
      form.reset();
      load();
    } catch (ex) { showError(err, ex); }
  });
  root.append(list, err, editor, form);
  await load();
}

async function sessionsView(root) {
  const r = await api('/api/auth-sessions');
  const list = r.sessions || [];
  root.append(h('p', { class: 'muted', text: `${list.length} signed-in session${list.length === 1 ? '' : 's'} (browsers and apps).` }),
    table(['User', 'Device', 'Address', 'Last used', 'Expires'], list.map((s) => h('tr', {},
      td('User', s.username || s.userId), td('Device', s.userAgent || 'Unknown'), td('Address', s.ipAddress || '—'),
      td('Last used', fmtDate(s.updatedAt)), td('Expires', fmtDate(s.expiresAt))))));
}

async function keysView(root) {
  const err = errorBox();
  const list = h('div');
  const secret = h('div', { class: 'secret', hidden: true, role: 'status' });
  const load = async () => {
    const { apiKeys } = await api('/api/api-keys');
    clear(list).append(apiKeys.length ? table(['Name', 'Owner', 'Scopes', 'Expires', 'Last used', 'Status', ''], apiKeys.map((k) => h('tr', {},
      td('Name', k.name), td('Owner', k.user ? k.user.username : '—'), td('Scopes', (k.scopes || []).join(', ')),
      td('Expires', fmtDate(k.expiresAt)), td('Last used', k.lastUsedAt ? `${fmtDate(k.lastUsedAt)} from ${k.lastUsedIp || '?'}` : 'Never'),
      td('Status', k.isActive ? 'Active' : 'Revoked'),
      h('td', {},
        k.isActive ? h('button', { type: 'button', class: 'small', onclick: () => act(() => api(`/api/api-keys/${enc(k.id)}`, { method: 'PATCH', body: { isActive: false } })) }, 'Revoke') : null,
        h('button', { type: 'button', class: 'small danger', onclick: () => act(() => api(`/api/api-keys/${enc(k.id)}`, { method: 'DELETE' })) }, 'Delete')))))
      : h('p', { class: 'muted', text: 'No API keys.' }));
  };
  const act = async (fn) => { try { await fn(); load(); } catch (ex) { showError(err, ex); } };
  const users = (await api('/api/users')).users;
  const scopes = ['read', 'progress', 'upload', 'admin'];
  const form = h('form', { class: 'card', 'aria-labelledby': 'nk-h' },
    h('h2', { id: 'nk-h', text: 'Create an API key' }),
    h('div', { class: 'row-fields' },
      field('Name', { name: 'name', required: true, autocomplete: 'off' }),
      select('Acts as', users.map((u) => ({ value: u.id, label: u.username, selected: u.id === (currentUser() || {}).id })), { name: 'userId' }),
      select('Expires in', [[7, '7 days'], [30, '30 days'], [90, '90 days'], [365, '1 year']].map(([d, l]) => ({ value: d * 86400, label: l, selected: d === 90 })), { name: 'expiresIn' })),
    h('fieldset', {}, h('legend', { text: 'Scopes' }),
      scopes.map((s) => h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'scopes', value: s, checked: s === 'read' }), s))),
    err,
    h('button', { type: 'submit', class: 'primary', text: 'Create key' }));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.hidden = true;
    const f = new FormData(form);
    try {
      const r = await api('/api/api-keys', {
        method: 'POST',
        body: { name: f.get('name'), userId: f.get('userId'), expiresIn: Number(f.get('expiresIn')), scopes: f.getAll('scopes'), isActive: true },
      });
      clear(secret).append(h('p', { text: 'Copy the key now; it is not shown again:' }), h('code', { text: r.apiKey.apiKey }));
      secret.hidden = false;
      form.reset();
      load();
    } catch (ex) { showError(err, ex); }
  });
  root.append(secret, list, form);
  await load();
}

const ACTIONS = ['login.success', 'login.failure', 'login.throttled', 'login.locked', 'logout', 'refresh.failure',
  'password.change', 'password.reset', 'user.create', 'user.update', 'user.delete', 'user.disable', 'user.permissions',
  'session.revoke', 'apikey.create', 'apikey.update', 'apikey.revoke', 'apikey.delete', 'apikey.refused',
  'library.create', 'library.update', 'library.delete', 'backup.create', 'backup.restore', 'backup.download',
  'allowlist.refused', 'server.init', 'audit.prune'];

async function auditView(root, params) {
  const page = Math.max(0, Number(params.get('page')) || 0);
  const dateMs = (v, end) => (v ? new Date(`${v}T${end ? '23:59:59.999' : '00:00:00'}`).getTime() : null);
  const form = h('form', { class: 'toolbar', 'aria-label': 'Audit filters' },
    select('Action', [{ value: '', label: 'Any action' }, ...ACTIONS.map((a) => ({ value: a, label: a, selected: a === params.get('action') }))], { name: 'action' }),
    field('Actor', { name: 'actor', value: params.get('actor') || '', autocomplete: 'off' }),
    field('Target', { name: 'target', value: params.get('target') || '', autocomplete: 'off' }),
    field('From', { name: 'from', type: 'date', value: params.get('from') || '' }),
    field('To', { name: 'to', type: 'date', value: params.get('to') || '' }),
    h('button', { type: 'submit', text: 'Filter' }));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const p = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) p.set(k, v);
    location.hash = `#/admin/audit?${p}`;
  });
  const qs = new URLSearchParams({ page, limit: 50 });
  for (const k of ['action', 'actor', 'target']) if (params.get(k)) qs.set(k, params.get(k));
  if (params.get('from')) qs.set('since', dateMs(params.get('from'), false));
  if (params.get('to')) qs.set('until', dateMs(params.get('to'), true));
  const r = await api(`/api/audit?${qs}`);
  const pages = Math.max(1, Math.ceil(r.total / r.limit));
  const go = (n) => { const p = new URLSearchParams(params); p.set('page', n); location.hash = `#/admin/audit?${p}`; };
  const detail = (d) => (d && Object.keys(d).length ? JSON.stringify(d) : '');
  root.append(form,
    h('p', { class: 'muted', text: `${r.total} event${r.total === 1 ? '' : 's'}` }),
    table(['When', 'Action', 'Actor', 'Target', 'Client', 'Details'], r.events.map((ev) => h('tr', {},
      td('When', fmtDate(ev.at)), td('Action', h('code', { text: ev.action })), td('Actor', ev.actorName || '—'),
      td('Target', ev.target || ''), td('Client', ev.ip || ''), td('Details', h('span', { class: 'details', text: detail(ev.details) }))))),
    pager(page, pages, go, NEWER_OLDER));
}

/// A running scan: a bar that fills as books are read, with the count; indeterminate while the
/// folders are still being listed.
function running(p) {
  if (p && p.phase === 'reading' && p.total > 0) {
    return h('span', {}, h('progress', { value: p.done, max: p.total, 'aria-label': 'Scan progress' }), ` ${p.done} of ${p.total} books read`);
  }
  return h('span', {}, h('progress', { 'aria-label': 'Running' }), p && p.phase === 'walking' ? ' Listing files' : ' Running');
}

let taskPoll = null;
async function librariesView(root) {
  const err = errorBox();
  const libs = h('div');
  const tasks = h('div', { 'aria-live': 'polite' });
  const loadTasks = async () => {
    if (!tasks.isConnected) { clearInterval(taskPoll); return; }
    const r = await api('/api/tasks');
    const list = (r.tasks || []).slice().sort((a, b) => (b.startedAt || 0) - (a.startedAt || 0)).slice(0, 10);
    clear(tasks).append(list.length ? table(['Task', 'Library', 'State', 'Result'], list.map((t) => h('tr', {},
      td('Task', t.action), td('Library', (t.data && t.data.libraryName) || ''),
      td('State', t.isFinished ? (t.isFailed ? 'Failed' : 'Finished') : running(t.data && t.data.progress)),
      td('Result', t.error || t.description || '')))) : h('p', { class: 'muted', text: 'No recent tasks.' }));
  };
  const load = async () => {
    const { libraries } = await api('/api/libraries');
    const issues = await Promise.all(libraries.map((l) => api(`/api/libraries/${enc(l.id)}/issues`).then((r) => r.issues || []).catch(() => [])));
    clear(libs).append(table(['Library', 'Folders', 'Last scan', 'Issues', ''], libraries.map((l, i) => h('tr', {},
      td('Library', l.name), td('Folders', (l.folders || []).map((f) => f.fullPath).join(', ')),
      td('Last scan', fmtDate(l.lastScan)),
      td('Issues', issues[i].length ? h('details', {}, h('summary', { text: `${issues[i].length} found` }),
        h('ul', {}, issues[i].slice(0, 50).map((x) => h('li', { text: `${x.path || x.relPath || ''} ${x.message || x.reason || x.kind || ''}`.trim() })))) : 'None'),
      h('td', {}, h('button', {
        type: 'button', class: 'small',
        onclick: async () => {
          try { await api(`/api/libraries/${enc(l.id)}/scan`, { method: 'POST' }); toast(`Scanning ${l.name}…`); loadTasks(); } catch (ex) { showError(err, ex); }
        },
      }, 'Scan now'))))));
  };
  const form = h('form', { class: 'card', 'aria-labelledby': 'nl-h' },
    h('h2', { id: 'nl-h', text: 'Add a library' }),
    h('div', { class: 'row-fields' },
      field('Name', { name: 'name', required: true, autocomplete: 'off' }),
      field('Folder on the server', { name: 'folder', required: true, autocomplete: 'off', placeholder: '/srv/audiobooks' })),
    h('button', { type: 'submit', class: 'primary', text: 'Add and scan' }));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.hidden = true;
    const f = new FormData(form);
    try {
      await api('/api/libraries', { method: 'POST', body: { name: f.get('name').trim(), mediaType: 'book', folders: [{ fullPath: f.get('folder').trim() }] } });
      toast(`Library ${f.get('name')} added; scanning.`);
      form.reset();
      await Promise.all([load(), loadTasks()]);
    } catch (ex) { showError(err, ex); }
  });
  root.append(libs, err, form, h('h2', { text: 'Tasks' }), tasks);
  await Promise.all([load(), loadTasks()]);
  clearInterval(taskPoll);
  taskPoll = setInterval(() => loadTasks().catch(() => {}), 2000);
}

function fmtBytes(n) {
  if (!n && n !== 0) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

async function backupsView(root) {
  const err = errorBox();
  const list = h('div');
  const state = h('div', { role: 'status' });
  const load = async () => {
    const r = await api('/api/backups');
    const st = r.status || {};
    const label = { ok: 'Backups are working.', failing: 'The last backup failed.', never: 'No backup has been made yet.' }[st.state] || '';
    clear(state).append(h('p', { class: st.state === 'failing' ? 'error' : 'muted', text: label }),
      st.lastError ? h('p', { class: 'error', text: st.lastError }) : null,
      (st.offsiteErrors || []).length ? h('ul', {}, st.offsiteErrors.map((e) => h('li', { class: 'error', text: e }))) : null,
      h('p', { class: 'muted', text: `Schedule: ${r.scheduled || 'none'}. Last success: ${fmtDate(st.lastSuccessMs)}.` }));
    clear(list).append((r.backups || []).length
      ? table(['Backup', 'Size', 'Created', ''], r.backups.map((b) => h('tr', {},
        td('Backup', h('code', { text: b.filename })), td('Size', fmtBytes(b.fileSize)), td('Created', fmtDate(b.createdAt)),
        h('td', {}, h('button', { type: 'button', class: 'small', onclick: () => download(b).catch((ex) => showError(err, ex)) }, 'Download')))))
      : h('p', { class: 'muted', text: 'No backups on disk.' }));
  };
  // The download route wants the Bearer token, which a plain link cannot send: fetch, then save.
  const download = async (b) => {
    const resp = await api(`/api/backups/${enc(b.id)}/download`, { raw: true });
    const url = URL.createObjectURL(await resp.blob());
    const a = h('a', { href: url, download: b.filename });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  };
  const now = h('button', {
    type: 'button', class: 'primary',
    onclick: async () => {
      err.hidden = true;
      now.disabled = true;
      try { await api('/api/backups', { method: 'POST' }); toast('Backup made.'); await load(); } catch (ex) { showError(err, ex); }
      now.disabled = false;
    },
  }, 'Back up now');
  root.append(state, h('div', { class: 'actions' }, now), err, list,
    h('p', { class: 'muted', text: 'Backups are encrypted with the key in the server configuration; restoring is done from the command line (shelfwarden backup restore).' }));
  await load();
}

/// What the server's own checks (the same as `shelfwarden doctor`) find, most severe first.
async function securityView(root) {
  const r = await api('/api/security/findings');
  const findings = r.findings || [];
  const order = { high: 0, medium: 1, low: 2, info: 3 };
  findings.sort((a, b) => (order[a.severity] ?? 9) - (order[b.severity] ?? 9));
  const counts = findings.reduce((c, f) => ({ ...c, [f.severity]: (c[f.severity] || 0) + 1 }), {});
  const v = r.version || {};
  root.append(
    h('p', { class: r.ok ? 'verdict-ok' : 'error', role: 'status', text: r.ok ? 'No high-severity findings.' : 'There are high-severity findings: fix these first.' }),
    h('p', { class: 'muted', text: `${['high', 'medium', 'low', 'info'].map((s) => `${counts[s] || 0} ${s}`).join(' · ')} — Shelfwarden ${v.version || ''} ${v.gitHash ? `(${v.gitHash})` : ''}` }),
    findings.length ? h('ul', { class: 'findings' }, findings.map((f) => h('li', { class: `finding sev-${f.severity}` },
      h('div', { class: 'finding-head' }, h('span', { class: 'sev', text: f.severity }), h('strong', { text: f.title })),
      f.detail ? h('p', { text: f.detail }) : null,
      f.fix ? h('p', { class: 'fix' }, h('span', { class: 'muted', text: 'Fix: ' }), f.fix) : null)))
      : h('p', { class: 'muted', text: 'Nothing to report.' }));
}

/// The settings the server runs with, read-only: they live in shelfwarden.toml and the environment.
async function settingsView(root) {
  const r = await api('/api/security/config');
  const show = (v) => (v === null || v === undefined ? '—' : Array.isArray(v) ? (v.length ? v.join(', ') : '—') : String(v));
  const rows = Object.keys(r.settings).sort().map((k) => h('tr', {},
    h('th', { scope: 'row' }, h('code', { text: k })), h('td', { text: show(r.settings[k]) })));
  root.append(
    h('p', { class: 'muted', text: `These come from ${r.dataDir}/shelfwarden.toml (or --config), SHELFWARDEN_* environment variables and command-line flags. Change them there and restart; the README's Configuration section explains each one. Credentials show only whether they are set.` }),
    h('table', { class: 'settings' }, h('caption', { text: 'Effective settings' }),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: 'Setting' }), h('th', { scope: 'col', text: 'Value' }))),
      h('tbody', {}, rows)));
}
