// Listening history and statistics: the user's own page (#/listening) and everyone's sessions
// for admins (Administration → Listening). Days are UTC dates, as the server counts them.

import { api } from './api.js';
import { h, clear, select, errorBox, showError, fmtDate, fmtTime, toast, pager, NEWER_OLDER } from './dom.js';

const enc = encodeURIComponent;
const PER_PAGE = 10;

/// "3 h 12 min", "4 min", "35 s", "under 1 s".
export function fmtListened(sec) {
  if (sec > 0 && sec < 0.5) return 'under 1 s';
  sec = Math.round(sec || 0);
  if (sec < 60) return `${sec} s`;
  const hours = Math.floor(sec / 3600);
  const min = Math.floor((sec % 3600) / 60);
  return hours ? `${hours} h ${min} min` : `${min} min`;
}

/// The last `n` UTC dates, oldest first, with what was listened on each.
function lastDays(days, n) {
  const out = [];
  const now = new Date();
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  for (let i = n - 1; i >= 0; i--) {
    const date = new Date(today - i * 86400000);
    const iso = date.toISOString().slice(0, 10);
    out.push({ iso, label: date.toLocaleDateString(undefined, { weekday: 'short', timeZone: 'UTC' }), seconds: days[iso] || 0 });
  }
  return out;
}

function tile(label, value) {
  return h('div', { class: 'stat' }, h('span', { class: 'stat-value', text: value }), h('span', { class: 'stat-label', text: label }));
}

const device = (s) => {
  const d = s.deviceInfo || {};
  return [d.clientName, d.deviceName || d.model].filter(Boolean).join(' · ') || d.deviceId || 'Unknown';
};

function sessionRows(sessions, { withUser, onDelete }) {
  return sessions.map((s) => h('tr', {},
    withUser ? h('td', { 'data-label': 'User', text: (s.user && s.user.username) || s.userId }) : null,
    h('td', { 'data-label': 'Book' }, h('a', { href: `#/item/${enc(s.libraryItemId)}`, text: s.displayTitle || 'Untitled' })),
    h('td', { 'data-label': 'Device', text: device(s) }),
    h('td', { 'data-label': 'Listened', text: fmtListened(s.timeListening) }),
    h('td', { 'data-label': 'Position', text: `${fmtTime(s.currentTime)} of ${fmtTime(s.duration)}` }),
    h('td', { 'data-label': 'When', text: fmtDate(s.updatedAt) }),
    h('td', {}, h('button', {
      type: 'button', class: 'small danger', 'aria-label': `Delete the session of ${s.displayTitle || 'this book'}`,
      onclick: () => onDelete(s),
    }, 'Delete'))));
}

function sessionTable(sessions, opts) {
  const headers = [opts.withUser ? 'User' : null, 'Book', 'Device', 'Listened', 'Position', 'When', ''].filter((x) => x !== null);
  return h('table', { class: 'table' },
    h('thead', {}, h('tr', {}, headers.map((t) => h('th', { scope: 'col', text: t })))),
    h('tbody', {}, sessionRows(sessions, opts)));
}

async function deleteSession(s, err, reload) {
  if (!confirm(`Delete this session of “${s.displayTitle || 'this book'}” from the history?`)) return;
  try {
    await api(`/api/sessions/${enc(s.id)}`, { method: 'DELETE' });
    toast('Session deleted.');
    await reload();
  } catch (ex) { showError(err, ex); }
}

/// The caller's own totals, the last seven days, their most listened books and their sessions.
export async function listeningView(root, params) {
  document.title = 'Listening · Shelfwarden';
  const page = Math.max(0, Number(params.get('page')) || 0);
  const [stats, history] = await Promise.all([
    api('/api/me/listening-stats'),
    api(`/api/me/listening-sessions?page=${page}&itemsPerPage=${PER_PAGE}`),
  ]);
  const go = (n) => { location.hash = `#/listening?page=${n}`; };
  // Deleting the last session of the last page leaves a page past the end: show the new last.
  if (page > 0 && page >= history.numPages) { go(Math.max(0, history.numPages - 1)); return; }
  const week = lastDays(stats.days || {}, 7);
  const weekTotal = week.reduce((sum, d) => sum + d.seconds, 0);
  const busiest = Math.max(1, ...week.map((d) => d.seconds));
  const books = Object.values(stats.items || {}).sort((a, b) => b.timeListening - a.timeListening).slice(0, 5);
  const err = errorBox();
  const reload = () => listeningView(root, params);
  clear(root).append(
    h('h1', { text: 'Listening' }),
    h('div', { class: 'stats', role: 'group', 'aria-label': 'Totals' },
      tile('Today', fmtListened(stats.today)),
      tile('Last 7 days', fmtListened(weekTotal)),
      tile('All time', fmtListened(stats.totalTime)),
      tile('Books', String(Object.keys(stats.items || {}).length))),
    h('section', { 'aria-label': 'Last 7 days' },
      h('h2', { text: 'Last 7 days' }),
      h('ul', { class: 'days' }, week.map((d) => h('li', {},
        h('span', { class: 'day', text: d.label }),
        h('meter', { min: 0, max: busiest, value: d.seconds, 'aria-label': `${d.iso}: ${fmtListened(d.seconds)}` }),
        h('span', { class: 'muted', text: fmtListened(d.seconds) }))))),
    h('section', { 'aria-label': 'Most listened' },
      h('h2', { text: 'Most listened' }),
      books.length
        ? h('ol', { class: 'top-books' }, books.map((b) => h('li', {},
          h('a', { href: `#/item/${enc(b.id)}`, text: (b.mediaMetadata && b.mediaMetadata.title) || 'Untitled' }),
          h('span', { class: 'muted', text: ` ${fmtListened(b.timeListening)}` }))))
        : h('p', { class: 'muted', text: 'Nothing yet: play a book and it shows here.' })),
    h('section', { 'aria-label': 'History' },
      h('h2', { text: 'History' }),
      err,
      history.sessions.length
        ? sessionTable(history.sessions, { withUser: false, onDelete: (s) => deleteSession(s, err, reload) })
        : h('p', { class: 'muted', text: 'No listening sessions.' }),
      pager(page, history.numPages, go, NEWER_OLDER)));
}

/// Every user's sessions, newest first, filtered by user; admins delete any of them (audited).
export async function adminListeningView(root, params) {
  const page = Math.max(0, Number(params.get('page')) || 0);
  const user = params.get('user') || '';
  const qs = new URLSearchParams({ page, itemsPerPage: 25, sort: 'updatedAt', desc: 1 });
  if (user) qs.set('user', user);
  const [{ users }, r] = await Promise.all([api('/api/users'), api(`/api/sessions?${qs}`)]);
  const err = errorBox();
  const go = (changes) => {
    const p = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) { if (v === '' || v === null) p.delete(k); else p.set(k, v); }
    location.hash = `#/admin/listening?${p}`;
  };
  if (page > 0 && page >= r.numPages) { go({ page: Math.max(0, r.numPages - 1) }); return; }
  const reload = () => adminListeningView(root, params);
  clear(root).append(
    h('div', { class: 'toolbar' },
      select('User', [{ value: '', label: 'Everyone' }, ...users.map((u) => ({ value: u.id, label: u.username, selected: u.id === user }))],
        { onchange: (e) => go({ user: e.target.value, page: '' }) })),
    h('p', { class: 'muted', text: `${r.total} listening session${r.total === 1 ? '' : 's'}` }),
    err,
    r.sessions.length
      ? sessionTable(r.sessions, { withUser: true, onDelete: (s) => deleteSession(s, err, reload) })
      : h('p', { class: 'muted', text: 'No listening sessions.' }),
    pager(page, r.numPages, (n) => go({ page: n }), NEWER_OLDER));
}
