// Tiny DOM helpers. Everything is built with createElement/textContent: no innerHTML anywhere,
// so text from the server can never become markup, and no style attributes (the CSP forbids them).

import { coverUrl } from './api.js';

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value') el.value = v;
    // The default too, so form.reset() returns a checkbox to how it was built.
    else if (k === 'checked') { el.defaultChecked = !!v; el.checked = !!v; }
    else if (k === 'selected' || k === 'disabled' || k === 'hidden') el[k] = !!v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

/// Replaces an element's children, skipping null/false like h() does (native append would
/// print them as text).
export function put(el, ...children) {
  append(clear(el), children);
  return el;
}

/// A labelled form field; the label is always visible and tied to its input.
let fieldSeq = 0;
export function field(label, attrs = {}, hint) {
  const id = attrs.id || `f${++fieldSeq}`;
  const tag = attrs.tag || 'input';
  const input = h(tag, { ...attrs, tag: undefined, id });
  return h('div', { class: 'field' },
    h('label', { for: id, text: label }), input,
    hint ? h('small', { class: 'hint', text: hint }) : null);
}

export function select(label, options, attrs = {}) {
  const id = attrs.id || `f${++fieldSeq}`;
  const sel = h('select', { ...attrs, id },
    options.map((o) => (o.group
      ? h('optgroup', { label: o.group }, o.options.map((x) => h('option', { value: x.value, selected: x.selected }, x.label)))
      : h('option', { value: o.value, selected: o.selected }, o.label))));
  return h('div', { class: 'field' }, h('label', { for: id, text: label }), sel);
}

let toastTimer = null;
export function toast(message, kind = 'info') {
  const el = document.getElementById('toast');
  if (!el) return;
  el.textContent = message;
  el.className = `toast show ${kind}`;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.className = 'toast'; }, 5000);
}

export function fmtTime(sec) {
  sec = Math.max(0, Math.floor(sec || 0));
  const hh = Math.floor(sec / 3600);
  const mm = Math.floor((sec % 3600) / 60);
  const ss = String(sec % 60).padStart(2, '0');
  return hh ? `${hh}:${String(mm).padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

export function fmtDate(ms) {
  if (!ms) return '—';
  return new Date(ms).toLocaleString();
}

/// An error box that screen readers announce.
export function errorBox() {
  return h('p', { class: 'error', role: 'alert', hidden: true });
}

export function showError(box, err) {
  box.textContent = err && err.message ? err.message : String(err);
  box.hidden = false;
}

/// Rebuilds server-sanitised description HTML from an inert parse, keeping only a few
/// harmless elements and copying text with textContent: the safe path, even if the server's
/// sanitiser were ever wrong.
const KEEP = new Set(['P', 'BR', 'B', 'STRONG', 'I', 'EM', 'UL', 'OL', 'LI', 'A']);
export function safeRichText(html) {
  const doc = new DOMParser().parseFromString(`<body>${html || ''}</body>`, 'text/html');
  const out = document.createDocumentFragment();
  const walk = (src, dst) => {
    for (const n of src.childNodes) {
      if (n.nodeType === Node.TEXT_NODE) dst.append(document.createTextNode(n.textContent));
      else if (n.nodeType === Node.ELEMENT_NODE) {
        if (!KEEP.has(n.tagName)) { walk(n, dst); continue; }
        const el = document.createElement(n.tagName.toLowerCase());
        if (n.tagName === 'A') {
          const href = n.getAttribute('href') || '';
          if (/^https?:\/\//i.test(href)) {
            el.setAttribute('href', href);
            el.setAttribute('rel', 'noopener noreferrer nofollow');
            el.setAttribute('target', '_blank');
          }
        }
        walk(n, el);
        dst.append(el);
      }
    }
  };
  walk(doc.body, out);
  return out;
}

/// ABS's filter values are base64 of UTF-8.
export function b64(s) {
  const bytes = new TextEncoder().encode(s);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

/// A cover, or a lettered tile when the book has none (no request that is bound to 404).
export function coverImg(itemId, title, hasCover, cls = 'cover') {
  const tile = () => h('div', { class: `${cls} nocover`, 'aria-hidden': 'true' }, h('span', { text: title || '' }));
  if (!hasCover) return tile();
  const img = h('img', { src: coverUrl(itemId), alt: '', loading: 'lazy', width: 160, height: 160, class: cls });
  img.addEventListener('error', () => img.replaceWith(tile()), { once: true });
  return img;
}


/// Copies text to the clipboard; says so, or says how to do it by hand where the browser refuses.
export async function copyText(text, what = 'Copied.') {
  try {
    await navigator.clipboard.writeText(text);
    toast(what);
  } catch {
    toast('This browser did not allow copying: select the text and copy it.', 'error');
  }
}

/// Saves text as a file through a Blob URL (no server round trip, nothing inline).
export function downloadText(filename, text) {
  const url = URL.createObjectURL(new Blob([text], { type: 'text/plain;charset=utf-8' }));
  const a = h('a', { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/// Labels for lists shown newest first.
export const NEWER_OLDER = ['← Newer', 'Older →'];

/// Previous/next page buttons around "Page n of m"; nothing when everything fits on one page.
export function pager(page, pages, go, labels = ['← Previous', 'Next →']) {
  if (pages <= 1) return null;
  return h('nav', { class: 'pager', 'aria-label': 'Pages' },
    h('button', { type: 'button', disabled: page === 0, onclick: () => go(page - 1) }, labels[0]),
    h('span', { text: `Page ${page + 1} of ${pages}` }),
    h('button', { type: 'button', disabled: page + 1 >= pages, onclick: () => go(page + 1) }, labels[1]));
}
