// Setup, sign-in, home, library and book views. Each view fills `root` and returns nothing.

import * as API from './api.js';
import { api } from './api.js';
import * as player from './player.js';
import { h, clear, put, field, select, errorBox, showError, fmtTime, safeRichText, b64, toast, coverImg, pager } from './dom.js';
import { passkeysSupported, passkeySignIn, passkeySecondFactor } from './webauthn.js';
import { playlistPicker } from './lists.js';

const enc = encodeURIComponent;

function pageTitle(text) {
  document.title = `${text} · Shelfwarden`;
  return h('h1', { text });
}

export function setupView(root, done) {
  const err = errorBox();
  const form = h('form', { class: 'card narrow', 'aria-labelledby': 'setup-h' },
    h('h1', { id: 'setup-h', text: 'Set up Shelfwarden' }),
    h('p', { text: 'Enter the setup token printed on the server console (also in the data folder as setup-token), then choose the first administrator.' }),
    field('Setup token', { name: 'token', required: true, autocomplete: 'off', spellcheck: 'false' }),
    field('Administrator username', { name: 'username', required: true, autocomplete: 'username' }),
    field('Password', { name: 'password', type: 'password', required: true, minlength: 12, autocomplete: 'new-password' },
      'At least 12 characters; a few unrelated words work well.'),
    err,
    h('button', { type: 'submit', class: 'primary', text: 'Create administrator' }));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.hidden = true;
    const f = new FormData(form);
    try {
      await API.init(f.get('token').trim(), f.get('username').trim(), f.get('password'));
      const r = await API.login(f.get('username').trim(), f.get('password'));
      toast('Server set up. Welcome!');
      signedIn(r, done);
    } catch (ex) { showError(err, ex); }
  });
  clear(root).append(form);
  document.title = 'Set up · Shelfwarden';
}

/// Runs one sign-in attempt with the button off; a throttled attempt keeps it off until the
/// server's Retry-After has passed, so every step reports limits the same way.
async function attempt(button, err, fn) {
  err.hidden = true;
  button.disabled = true;
  try {
    await fn();
  } catch (ex) {
    showError(err, ex);
    if (ex.status === 429 && ex.retryAfter) {
      setTimeout(() => { button.disabled = false; }, ex.retryAfter * 1000);
      return;
    }
  }
  button.disabled = false;
}

/// After any successful sign-in: an account that must enrol a second factor goes straight to it.
function signedIn(result, done) {
  if (result && result.enrolmentRequired) {
    toast('Your server requires two-factor authentication for your account: set it up to continue.');
    location.hash = '#/account';
    return;
  }
  done();
}

export function loginView(root, done) {
  const err = errorBox();
  const button = h('button', { type: 'submit', class: 'primary', text: 'Sign in' });
  const passkeyErr = errorBox();
  const passkeyBtn = passkeysSupported() ? h('button', { type: 'button', class: 'wide', text: 'Sign in with a passkey' }) : null;
  const form = h('form', { class: 'card narrow', 'aria-labelledby': 'login-h' },
    h('h1', { id: 'login-h', text: 'Sign in' }),
    field('Username', { name: 'username', required: true, autocomplete: 'username', autofocus: true }),
    field('Password', { name: 'password', type: 'password', required: true, autocomplete: 'current-password' }),
    err, button,
    passkeyBtn ? h('div', { class: 'alt-login' }, h('p', { class: 'muted or', text: 'or' }), passkeyBtn, passkeyErr) : null);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const f = new FormData(form);
    attempt(button, err, async () => {
      const r = await API.login(f.get('username').trim(), f.get('password'));
      if (r.mfa) secondStep(root, r.mfa, done);
      else signedIn(r, done);
    });
  });
  if (passkeyBtn) {
    passkeyBtn.addEventListener('click', () => attempt(passkeyBtn, passkeyErr, async () => {
      signedIn(await passkeySignIn(), done);
    }));
  }
  clear(root).append(form);
  document.title = 'Sign in · Shelfwarden';
}

/// The second step of a login: a code from the authenticator app, a recovery code, or a passkey.
function secondStep(root, mfa, done) {
  const err = errorBox();
  const button = h('button', { type: 'submit', class: 'primary', text: 'Verify' });
  const code = field('Authentication code', {
    name: 'code', required: true, autocomplete: 'one-time-code', inputmode: 'numeric',
    pattern: '[0-9 ]{6,7}', maxlength: 7, spellcheck: 'false', autofocus: true,
  }, 'The six-digit code your authenticator app shows now.');
  const recovery = field('Recovery code', {
    name: 'recoveryCode', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off',
  }, 'One of the ten codes you saved when you set up two-factor authentication. Each works once.');
  recovery.hidden = true;
  const codeInput = code.querySelector('input');
  const recoveryInput = recovery.querySelector('input');
  let useRecovery = false;
  const toggle = h('button', { type: 'button', class: 'link-button', text: 'Use a recovery code' });
  toggle.addEventListener('click', () => {
    useRecovery = !useRecovery;
    code.hidden = useRecovery;
    recovery.hidden = !useRecovery;
    codeInput.required = !useRecovery;
    recoveryInput.required = useRecovery;
    toggle.textContent = useRecovery ? 'Use a code from the app instead' : 'Use a recovery code';
    err.hidden = true;
    (useRecovery ? recoveryInput : codeInput).focus();
  });
  const usePasskey = (mfa.methods || []).includes('passkey') && passkeysSupported()
    ? h('button', { type: 'button', class: 'wide', text: 'Use a passkey' }) : null;
  const form = h('form', { class: 'card narrow', 'aria-labelledby': 'mfa-h' },
    h('h1', { id: 'mfa-h', text: 'Two-factor authentication' }),
    h('p', { id: 'mfa-intro', text: 'One more step: confirm it is you with your second factor.' }),
    code, recovery, err, button,
    h('div', { class: 'alt-login' },
      toggle,
      usePasskey ? [h('p', { class: 'muted or', text: 'or' }), usePasskey] : null,
      h('button', {
        type: 'button', class: 'link-button',
        onclick: () => loginView(root, done),
      }, 'Start over')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const factor = useRecovery
      ? { recoveryCode: recoveryInput.value.trim() }
      : { code: codeInput.value.replace(/\s/g, '') };
    attempt(button, err, async () => {
      signedIn(await API.loginSecondStep(mfa.mfaToken, factor), done);
    });
  });
  if (usePasskey) {
    usePasskey.addEventListener('click', () => attempt(usePasskey, err, async () => {
      signedIn(await passkeySecondFactor(mfa.mfaToken), done);
    }));
  }
  clear(root).append(form);
  document.title = 'Two-factor authentication · Shelfwarden';
  codeInput.focus();
}

function progressOf(itemId) {
  const me = API.currentUser();
  return me && (me.mediaProgress || []).find((p) => p.libraryItemId === itemId && !p.episodeId);
}

export function bookCard(item) {
  const m = item.media || {};
  const md = m.metadata || {};
  const p = progressOf(item.id) || item.userMediaProgress;
  const pct = p ? Math.round((p.isFinished ? 1 : p.progress || 0) * 100) : 0;
  return h('li', { class: 'book' },
    h('a', { href: `#/item/${enc(item.id)}`, class: 'cover-link' },
      coverImg(item.id, md.title, !!m.coverPath),
      h('span', { class: 'btitle', text: md.title || 'Untitled' }),
      h('span', { class: 'bauthor', text: md.authorName || '' }),
      pct > 0 ? h('progress', { max: 100, value: pct, 'aria-label': `${pct}% listened` }) : null));
}

function seriesCard(libId, s) {
  const first = (s.books || [])[0];
  return h('li', { class: 'book' },
    h('a', { href: `#/library/${enc(libId)}?filter=${enc(`series.${b64(s.id)}`)}`, class: 'cover-link' },
      coverImg(first ? first.id : '', s.name, !!(first && first.media && first.media.coverPath)),
      h('span', { class: 'btitle', text: s.name }),
      h('span', { class: 'bauthor', text: `${(s.books || []).length} book${(s.books || []).length === 1 ? '' : 's'}` })));
}

/// Takes a book off "Continue listening" without touching its progress.
function hideButton(item, err, done) {
  const title = (item.media && item.media.metadata && item.media.metadata.title) || 'this book';
  return h('button', {
    type: 'button', class: 'small', 'aria-label': `Hide ${title} from Continue listening`,
    onclick: async () => {
      try {
        const p = await api(`/api/me/progress/${enc(item.id)}`);
        await api(`/api/me/progress/${enc(p.id)}/remove-from-continue-listening`);
        toast(`${title} is off the shelf; its progress is kept.`);
        await done();
      } catch (ex) { showError(err, ex); }
    },
  }, 'Hide');
}

export async function homeView(root, libId) {
  clear(root).append(pageTitle('Home'));
  const shelves = await api(`/api/libraries/${enc(libId)}/personalized?limit=12`);
  const wanted = shelves.filter((s) => s.entities && s.entities.length && (s.type === 'book' || s.type === 'series'));
  if (!wanted.length) {
    root.append(h('p', { class: 'muted', text: 'Nothing here yet: the library is empty or still scanning.' }));
  }
  const err = errorBox();
  root.append(err);
  for (const s of wanted) {
    const card = (e) => {
      if (s.type === 'series') return seriesCard(libId, e);
      const c = bookCard(e);
      if (s.id === 'continue-listening') c.append(hideButton(e, err, () => homeView(root, libId)));
      return c;
    };
    root.append(h('section', { class: 'shelf', 'aria-label': s.label },
      h('h2', { text: s.label }),
      h('ul', { class: 'row' }, s.entities.map(card))));
  }
  root.append(h('p', {}, h('a', { href: `#/library/${enc(libId)}`, class: 'button', text: 'Browse the whole library →' })));
}

const SORTS = [
  ['media.metadata.title', 'Title'],
  ['media.metadata.authorName', 'Author'],
  ['addedAt', 'Date added'],
  ['media.duration', 'Length'],
  ['media.metadata.publishedYear', 'Year published'],
];
const PAGE = 24;

export async function libraryView(root, libId, params) {
  const q = params.get('q') || '';
  const sort = params.get('sort') || 'media.metadata.title';
  const desc = params.get('desc') === '1';
  const filter = params.get('filter') || '';
  const page = Math.max(0, Number(params.get('page')) || 0);
  const go = (changes) => {
    const p = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) { if (v === '' || v === null) p.delete(k); else p.set(k, v); }
    if (!('page' in changes)) p.delete('page');
    location.hash = `#/library/${enc(libId)}?${p}`;
  };
  clear(root).append(pageTitle('Library'));
  const [fd, libs] = await Promise.all([
    api(`/api/libraries/${enc(libId)}/filterdata`),
    api('/api/libraries'),
  ]);
  const filterOptions = [{ value: '', label: 'Everything' },
    { group: 'Progress', options: [['not-started', 'Not started'], ['in-progress', 'In progress'], ['finished', 'Finished'], ['not-finished', 'Not finished']].map(([v, l]) => ({ value: `progress.${b64(v)}`, label: l })) },
    { group: 'Author', options: (fd.authors || []).map((a) => ({ value: `authors.${b64(a.id)}`, label: a.name })) },
    { group: 'Series', options: (fd.series || []).map((s) => ({ value: `series.${b64(s.id)}`, label: s.name })) },
    { group: 'Narrator', options: (fd.narrators || []).map((n) => ({ value: `narrators.${b64(n)}`, label: n })) },
    { group: 'Genre', options: (fd.genres || []).map((g) => ({ value: `genres.${b64(g)}`, label: g })) },
  ].filter((o) => !o.group || o.options.length);
  for (const o of filterOptions) for (const x of o.options || [o]) x.selected = x.value === filter;
  const search = h('input', { type: 'search', id: 'lib-search', name: 'q', value: q, placeholder: 'Title, author, series…' });
  const toolbar = h('form', { class: 'toolbar', role: 'search', onsubmit: (e) => { e.preventDefault(); go({ q: search.value.trim() }); } },
    (libs.libraries || []).length > 1
      ? select('Library', libs.libraries.map((l) => ({ value: l.id, label: l.name, selected: l.id === libId })),
        { onchange: (e) => { location.hash = `#/library/${enc(e.target.value)}`; } })
      : null,
    h('div', { class: 'field grow' }, h('label', { for: 'lib-search', text: 'Search' }), search),
    select('Sort by', SORTS.map(([v, l]) => ({ value: v, label: l, selected: v === sort })), { onchange: (e) => go({ sort: e.target.value }) }),
    select('Order', [{ value: '0', label: 'Ascending', selected: !desc }, { value: '1', label: 'Descending', selected: desc }], { onchange: (e) => go({ desc: e.target.value === '1' ? '1' : '' }) }),
    select('Filter', filterOptions, { onchange: (e) => go({ filter: e.target.value }) }),
    h('button', { type: 'submit', text: 'Search' }));
  root.append(toolbar);
  const grid = h('ul', { class: 'grid', 'aria-live': 'polite' });
  const status = h('p', { class: 'muted' });
  root.append(status, grid);
  let items;
  let total;
  if (q) {
    const r = await api(`/api/libraries/${enc(libId)}/search?q=${enc(q)}&limit=50`);
    items = (r.book || []).map((b) => b.libraryItem);
    total = items.length;
    status.textContent = `${total} result${total === 1 ? '' : 's'} for “${q}”`;
  } else {
    const qs = new URLSearchParams({ limit: PAGE, page, sort, desc: desc ? 1 : 0, include: 'progress' });
    if (filter) qs.set('filter', filter);
    const r = await api(`/api/libraries/${enc(libId)}/items?${qs}`);
    items = r.results || [];
    total = r.total || 0;
    status.textContent = `${total} book${total === 1 ? '' : 's'}`;
  }
  grid.append(...items.map(bookCard));
  if (!items.length) grid.append(h('li', { class: 'muted', text: 'No books match.' }));
  const pages = Math.ceil(total / PAGE);
  if (!q && pages > 1) root.append(pager(page, pages, (n) => go({ page: n })));
}

export async function itemView(root, itemId) {
  const item = await api(`/api/items/${enc(itemId)}?expanded=1&include=progress`);
  const m = item.media || {};
  const md = m.metadata || {};
  const progress = item.userMediaProgress;
  const err = errorBox();
  const names = (list) => (list || []).map((x) => (typeof x === 'string' ? x : x.name)).join(', ');
  const facts = [
    ['Author', names(md.authors) || md.authorName],
    ['Narrator', names(md.narrators)],
    ['Series', (md.series || []).map((s) => (s.sequence ? `${s.name} #${s.sequence}` : s.name)).join(', ')],
    ['Genre', (md.genres || []).join(', ')],
    ['Published', [md.publishedYear, md.publisher].filter(Boolean).join(', ')],
    ['Length', fmtTime(m.duration)],
  ].filter(([, v]) => v);
  const resumeAt = progress && !progress.isFinished ? progress.currentTime || 0 : 0;
  const playBtn = h('button', {
    type: 'button', class: 'primary', id: 'play-button',
    onclick: async () => { try { await player.play(itemId); } catch (ex) { showError(err, ex); } },
  }, resumeAt > 0 ? `▶ Resume from ${fmtTime(resumeAt)}` : '▶ Play');
  const finishBtn = h('button', {
    type: 'button',
    onclick: async () => {
      const finished = !(progress && progress.isFinished);
      try {
        await api(`/api/me/progress/${enc(itemId)}`, { method: 'PATCH', body: { isFinished: finished } });
        await API.refresh();
        toast(finished ? 'Marked as finished.' : 'Marked as not finished.');
        itemView(root, itemId);
      } catch (ex) { showError(err, ex); }
    },
  }, progress && progress.isFinished ? 'Mark as not finished' : 'Mark as finished');
  const description = h('div', { class: 'description' });
  description.append(safeRichText(md.description));
  const chapters = (m.chapters || []).map((c) => h('li', {},
    h('button', { type: 'button', class: 'link', onclick: () => player.play(itemId, c.start).catch((ex) => showError(err, ex)) },
      h('span', { text: c.title }), h('span', { class: 'muted', text: fmtTime(c.start) }))));
  const marks = h('ul', { class: 'list' });
  const loadMarks = async () => {
    const me = await api('/api/me');
    const list = (me.bookmarks || []).filter((b) => b.libraryItemId === itemId).sort((a, b) => a.time - b.time);
    clear(marks).append(...list.map((b) => h('li', {},
      h('button', { type: 'button', class: 'link', onclick: () => player.play(itemId, b.time) },
        h('span', { text: b.title || 'Bookmark' }), h('span', { class: 'muted', text: fmtTime(b.time) })),
      h('button', {
        type: 'button', class: 'small', 'aria-label': `Delete bookmark ${b.title || ''} at ${fmtTime(b.time)}`,
        onclick: async () => { await api(`/api/me/item/${enc(itemId)}/bookmark/${b.time}`, { method: 'DELETE' }); loadMarks(); },
      }, 'Delete'))));
    if (!list.length) marks.append(h('li', { class: 'muted', text: 'No bookmarks yet.' }));
  };
  const addMark = h('button', {
    type: 'button',
    onclick: async () => {
      const st = player.state();
      const time = st && st.itemId === itemId ? Math.floor(st.time) : Math.floor(resumeAt);
      try {
        await api(`/api/me/item/${enc(itemId)}/bookmark`, { method: 'POST', body: { time, title: `Bookmark at ${fmtTime(time)}` } });
        loadMarks();
      } catch (ex) { showError(err, ex); }
    },
  }, 'Add bookmark here');
  put(root,
    h('article', { class: 'book-page' },
      coverImg(itemId, md.title, !!m.coverPath, 'big-cover'),
      h('div', { class: 'book-info' },
        pageTitle(md.title || 'Untitled'),
        md.subtitle ? h('p', { class: 'subtitle', text: md.subtitle }) : null,
        h('dl', { class: 'facts' }, facts.map(([k, v]) => [h('dt', { text: k }), h('dd', { text: v })])),
        progress ? h('p', { class: 'muted', id: 'progress-note' },
          progress.isFinished ? 'Finished.' : `Listened ${Math.round((progress.progress || 0) * 100)}% (at ${fmtTime(progress.currentTime)}).`) : null,
        h('div', { class: 'actions' }, playBtn, finishBtn),
        err,
        description)),
    chapters.length ? h('section', {}, h('h2', { text: 'Chapters' }), h('ol', { class: 'list chapters' }, chapters)) : null,
    h('section', {}, h('h2', { text: 'Bookmarks' }), addMark, marks),
    await playlistPicker(itemId, item.libraryId));
  loadMarks().catch(() => {});
}
