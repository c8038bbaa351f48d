// Boot and routing. Views live in the URL fragment (#/library/…) so the server needs one page
// and no view path can collide with an ABS API route.

import * as API from './api.js';
import * as player from './player.js';
import { h, clear, errorBox, showError } from './dom.js';
import { setupView, loginView, homeView, libraryView, itemView } from './views.js';
import { accountView } from './account.js';
import { adminView } from './admin.js';
import { listsView, listView } from './lists.js';
import { listeningView } from './listening.js';
import { stepUpDialog } from './security.js';

const main = document.getElementById('main');
const top = document.getElementById('top');
let initialised = true;

function header() {
  const me = API.currentUser();
  clear(top);
  top.hidden = !me;
  if (!me) return;
  const lib = API.defaultLibrary();
  const links = [
    ['#/', 'Home'],
    lib ? [`#/library/${encodeURIComponent(lib)}`, 'Library'] : null,
    lib ? ['#/lists', 'Lists'] : null,
    ['#/listening', 'Listening'],
    ['#/account', 'Account'],
    API.isAdmin() ? ['#/admin/users', 'Admin'] : null,
  ].filter(Boolean);
  const here = location.hash || '#/';
  top.append(
    h('a', { class: 'brand', href: '#/' }, h('img', { src: '/app/icon.svg', alt: '', width: 24, height: 24 }), 'Shelfwarden'),
    h('nav', { 'aria-label': 'Main' }, links.map(([href, label]) => h('a', {
      href, 'aria-current': (href === '#/' ? here === '#/' || here === '#' : here.startsWith(href.split('/').slice(0, 2).join('/'))) ? 'page' : null,
    }, label))),
    h('button', {
      type: 'button', class: 'small',
      onclick: async () => { await player.stop(); await API.logout(); location.hash = '#/login'; },
    }, 'Sign out'));
}

function parse() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, query] = raw.split('?');
  return { parts: path.split('/').filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(query || '') };
}

let routeSeq = 0;

/// Renders the view the URL names. Views build into a detached container that replaces the page
/// only if no newer navigation started meanwhile, so overlapping routes never render twice.
async function route() {
  const mine = ++routeSeq;
  const { parts, params } = parse();
  const me = API.currentUser();
  const view = h('div', { class: 'view' });
  const show = () => { if (mine === routeSeq) { clear(main).append(view); main.focus({ preventScroll: true }); } };
  const goto = (hash) => { if (location.hash === hash) route(); else location.hash = hash; };
  if (!initialised) {
    if (parts[0] !== 'setup') { goto('#/setup'); return; }
    header();
    setupView(view, () => { initialised = true; goto('#/'); });
    show();
    return;
  }
  if (!me) {
    if (parts[0] !== 'login') { sessionStorage.setItem('sw-after-login', location.hash); goto('#/login'); return; }
    header();
    loginView(view, () => {
      const next = sessionStorage.getItem('sw-after-login');
      sessionStorage.removeItem('sw-after-login');
      goto(next && !next.startsWith('#/login') && !next.startsWith('#/setup') ? next : '#/');
    });
    show();
    return;
  }
  if ((me.mustChangePassword || API.enrolmentRequired()) && parts[0] !== 'account') { goto('#/account'); return; }
  if (parts[0] === 'login' || parts[0] === 'setup') { goto('#/'); return; }
  header();
  const lib = API.defaultLibrary();
  if (!main.querySelector('.view')) clear(main).append(h('p', { class: 'loading', text: 'Loading…' }));
  try {
    if (parts.length === 0) {
      if (lib) await homeView(view, lib);
      else view.append(h('h1', { text: 'Home' }), h('p', { class: 'muted', text: 'No library yet. An administrator can add one.' }));
    } else if (parts[0] === 'library') await libraryView(view, parts[1] || lib, params);
    else if (parts[0] === 'item' && parts[1]) await itemView(view, parts[1]);
    else if (parts[0] === 'lists' && lib) await listsView(view, lib);
    else if ((parts[0] === 'playlist' || parts[0] === 'collection') && parts[1]) await listView(view, parts[0], parts[1]);
    else if (parts[0] === 'listening') await listeningView(view, params);
    else if (parts[0] === 'account') await accountView(view);
    else if (parts[0] === 'admin' && API.isAdmin()) await adminView(view, parts[1] || 'users', params);
    else view.append(h('h1', { text: 'Not found' }), h('p', {}, h('a', { href: '#/', text: 'Go home' })));
  } catch (ex) {
    if (ex.status === 401) { if (mine === routeSeq) route(); return; }
    if (ex.enrol) { if (mine === routeSeq) goto('#/account'); return; }
    const box = errorBox();
    showError(box, ex);
    clear(view).append(h('h1', { text: 'Something went wrong' }), box);
  }
  show();
}

async function boot() {
  try {
    const s = await API.status();
    initialised = s.isInit !== false;
  } catch { /* the API answers below or the error view explains */ }
  if (initialised) await API.refresh();
  addEventListener('hashchange', route);
  // Sensitive changes the server wants a recent sign-in for ask for the password, then go through.
  API.onStepUp(stepUpDialog);
  // A session that ends elsewhere (revoked, expired) sends the user back to sign in.
  API.onAuthChange((me) => { if (!me) header(); });
  await route();
}

boot();
