// Playlists (the user's own) and collections (shared per library): the lists page, one list, and
// the "add to playlist" control of the book page.

import { api } from './api.js';
import { h, clear, put, errorBox, showError, toast } from './dom.js';
import { bookCard } from './views.js';

const enc = encodeURIComponent;
const count = (n) => `${n} book${n === 1 ? '' : 's'}`;

function listCard(kind, list) {
  const books = kind === 'playlist' ? (list.items || []).map((i) => i.libraryItem) : list.books || [];
  return h('li', { class: 'list-card' },
    h('a', { href: `#/${kind}/${enc(list.id)}` },
      h('span', { class: 'btitle', text: list.name }),
      h('span', { class: 'bauthor', text: count(books.length) })));
}

export async function listsView(root, libId) {
  document.title = 'Lists · Shelfwarden';
  const [playlists, collections] = await Promise.all([
    api(`/api/libraries/${enc(libId)}/playlists`),
    api(`/api/libraries/${enc(libId)}/collections`),
  ]);
  const section = (title, kind, lists, empty) => h('section', { 'aria-label': title },
    h('h2', { text: title }),
    lists.length
      ? h('ul', { class: 'lists' }, lists.map((l) => listCard(kind, l)))
      : h('p', { class: 'muted', text: empty }));
  put(root,
    h('h1', { text: 'Lists' }),
    section('My playlists', 'playlist', playlists.results || [],
      'No playlists yet. Add a book to one from its page.'),
    section('Collections', 'collection', collections.results || [],
      'No collections in this library.'));
}

export async function listView(root, kind, id) {
  const list = await api(`/api/${kind}s/${enc(id)}`);
  const books = kind === 'playlist' ? (list.items || []).map((i) => i.libraryItem) : list.books || [];
  document.title = `${list.name} · Shelfwarden`;
  const err = errorBox();
  const grid = h('ul', { class: 'grid' });
  for (const book of books) {
    const card = bookCard(book);
    if (kind === 'playlist') {
      card.append(h('button', {
        type: 'button', class: 'small', 'aria-label': `Remove ${book.media.metadata.title} from the playlist`,
        onclick: async () => {
          try {
            const left = await api(`/api/playlists/${enc(id)}/item/${enc(book.id)}`, { method: 'DELETE' });
            if ((left.items || []).length) listView(root, kind, id);
            else { toast('The playlist was empty and is gone.'); location.hash = '#/lists'; }
          } catch (ex) { showError(err, ex); }
        },
      }, 'Remove'));
    }
    grid.append(card);
  }
  if (!books.length) grid.append(h('li', { class: 'muted', text: 'No books.' }));
  const remove = kind === 'playlist' ? h('button', {
    type: 'button',
    onclick: async () => {
      if (!confirm(`Delete the playlist “${list.name}”?`)) return;
      try {
        await api(`/api/playlists/${enc(id)}`, { method: 'DELETE' });
        toast('Playlist deleted.');
        location.hash = '#/lists';
      } catch (ex) { showError(err, ex); }
    },
  }, 'Delete playlist') : null;
  put(root,
    h('p', {}, h('a', { href: '#/lists', text: '← Lists' })),
    h('h1', { text: list.name }),
    h('p', { class: 'muted', text: `${kind === 'playlist' ? 'Playlist' : 'Collection'} · ${count(books.length)}` }),
    list.description ? h('p', { text: list.description }) : null,
    remove, err, grid);
}

/// "Add to playlist": one of the user's playlists in the book's library, or a new one.
export async function playlistPicker(itemId, libId) {
  const box = h('section', { 'aria-label': 'Playlists' }, h('h2', { text: 'Playlists' }));
  const err = errorBox();
  const mine = await api(`/api/libraries/${enc(libId)}/playlists`);
  const lists = mine.results || [];
  const has = lists.filter((l) => (l.items || []).some((i) => i.libraryItemId === itemId));
  const choice = h('select', { id: 'playlist-choice' },
    lists.filter((l) => !has.includes(l)).map((l) => h('option', { value: l.id }, l.name)),
    h('option', { value: '' }, 'New playlist…'));
  const name = h('input', { id: 'playlist-name', placeholder: 'Name of the new playlist', maxlength: 200 });
  const nameField = h('div', { class: 'field grow' }, h('label', { for: 'playlist-name', text: 'Name' }), name);
  const showName = () => { nameField.hidden = choice.value !== ''; };
  choice.addEventListener('change', showName);
  const form = h('form', {
    class: 'toolbar',
    onsubmit: async (e) => {
      e.preventDefault();
      try {
        if (choice.value) {
          await api(`/api/playlists/${enc(choice.value)}/item`, { method: 'POST', body: { libraryItemId: itemId } });
        } else {
          if (!name.value.trim()) { name.focus(); return; }
          await api('/api/playlists', { method: 'POST', body: { name: name.value.trim(), libraryId: libId, items: [{ libraryItemId: itemId }] } });
        }
        toast('Added to the playlist.');
        box.replaceWith(await playlistPicker(itemId, libId));
      } catch (ex) { showError(err, ex); }
    },
  },
  h('div', { class: 'field' }, h('label', { for: 'playlist-choice', text: 'Add to playlist' }), choice),
  nameField,
  h('button', { type: 'submit', text: 'Add' }));
  showName();
  clear(box).append(h('h2', { text: 'Playlists' }),
    has.length ? h('p', {}, 'In ', has.map((l, i) => [i ? ', ' : '', h('a', { href: `#/playlist/${enc(l.id)}`, text: l.name })]), '.') : null,
    form, err);
  return box;
}
