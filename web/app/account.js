// The account page: password change with the server's own strength verdict, two-factor
// authentication, app passwords, and sessions.

import * as API from './api.js';
import { api } from './api.js';
import { h, clear, put, field, errorBox, showError, fmtDate, toast } from './dom.js';
import { twoFactorSection, passkeysSection, appPasswordsSection } from './security.js';

/// A strength meter bound to a password input: asks the server (the same policy that will judge
/// the password) after the user pauses typing, and lists its reasons.
export function strengthMeter(input) {
  const meter = h('meter', { min: 0, max: 4, low: 2, high: 3, optimum: 4, value: 0, 'aria-label': 'Password strength' });
  const verdict = h('span', { class: 'verdict', 'aria-live': 'polite' });
  const reasons = h('ul', { class: 'reasons' });
  let timer = null;
  let seq = 0;
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const mine = ++seq;
      if (!input.value) { meter.value = 0; verdict.textContent = ''; clear(reasons); return; }
      try {
        const s = await api('/api/me/password/strength', { method: 'POST', body: { password: input.value } });
        if (mine !== seq) return;
        meter.value = s.score;
        verdict.textContent = s.acceptable ? 'Strong enough.' : 'Not accepted yet.';
        clear(reasons).append(...s.reasons.map((r) => h('li', { text: r })));
      } catch { /* the meter is advice; the server judges on submit */ }
    }, 250);
  });
  return h('div', { class: 'strength' }, h('div', { class: 'meter-row' }, meter, verdict), reasons);
}

export async function accountView(root) {
  const me = API.currentUser();
  document.title = 'Account · Shelfwarden';
  const err = errorBox();
  const pw = field('New password', { name: 'newPassword', type: 'password', required: true, autocomplete: 'new-password' });
  const form = h('form', { class: 'card', 'aria-labelledby': 'pw-h' },
    h('h2', { id: 'pw-h', text: 'Change password' }),
    me && me.mustChangePassword ? h('p', { class: 'error', text: 'Your password no longer meets the policy: choose a new one to continue.' }) : null,
    field('Current password', { name: 'password', type: 'password', required: true, autocomplete: 'current-password' }),
    pw, strengthMeter(pw.querySelector('input')),
    field('Repeat new password', { name: 'confirm', type: 'password', required: true, autocomplete: 'new-password' }),
    err,
    h('button', { type: 'submit', class: 'primary', text: 'Change password' }));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.hidden = true;
    const f = new FormData(form);
    if (f.get('newPassword') !== f.get('confirm')) { showError(err, 'The new passwords do not match.'); return; }
    try {
      await api('/api/me/password', { method: 'PATCH', body: { password: f.get('password'), newPassword: f.get('newPassword') } });
      form.reset();
      await API.refresh();
      toast('Password changed. Your other sessions were signed out.');
      accountView(root);
    } catch (ex) { showError(err, ex); }
  });
  const sessions = h('tbody');
  const sessionsErr = errorBox();
  const loadSessions = async () => {
    const r = await api('/api/me/sessions');
    clear(sessions).append(...(r.sessions || []).map((s) => h('tr', {},
      h('td', { 'data-label': 'Device', text: s.userAgent || 'Unknown device' }),
      h('td', { 'data-label': 'Address', text: s.ipAddress || '—' }),
      h('td', { 'data-label': 'Last used', text: fmtDate(s.updatedAt) }),
      h('td', {}, s.isCurrent ? h('strong', { text: 'This browser' }) : h('button', {
        type: 'button', class: 'small',
        onclick: async () => {
          try { await api(`/api/me/sessions/${encodeURIComponent(s.id)}`, { method: 'DELETE' }); loadSessions(); } catch (ex) { showError(sessionsErr, ex); }
        },
      }, 'Sign out')))));
  };
  // A session limited to enrolment reaches only the 2FA routes: show those first, and alone.
  const enrolOnly = API.enrolmentRequired();
  const tfa = twoFactorSection(() => accountView(root));
  const passkeys = enrolOnly ? null : passkeysSection();
  const apps = enrolOnly ? null : appPasswordsSection();
  const sessionsCard = enrolOnly ? null : h('section', { class: 'card', 'aria-labelledby': 'sess-h' },
    h('h2', { id: 'sess-h', text: 'Sessions and devices' }),
    h('table', { class: 'table' },
      h('thead', {}, h('tr', {}, ['Device', 'Address', 'Last used', ''].map((t) => h('th', { scope: 'col', text: t })))),
      sessions),
    sessionsErr,
    h('button', {
      type: 'button',
      onclick: async () => { await API.logout(true); location.hash = '#/login'; },
    }, 'Sign out everywhere'));
  put(root,
    h('h1', { text: 'Account' }),
    h('p', { class: 'muted', text: `Signed in as ${me ? me.username : ''} (${me ? me.type : ''}).` }),
    enrolOnly ? h('p', { class: 'notice', role: 'status', id: 'enrol-notice', text: 'Your server requires two-factor authentication for your account. Set it up below to continue; until then the rest of Shelfwarden stays closed.' }) : null,
    enrolOnly ? tfa.section : null,
    form,
    enrolOnly ? null : tfa.section,
    passkeys ? passkeys.section : null,
    apps ? apps.section : null,
    sessionsCard);
  await Promise.all([tfa.load(), passkeys ? passkeys.load() : null, apps ? apps.load() : null, enrolOnly ? null : loadSessions()]);
}
