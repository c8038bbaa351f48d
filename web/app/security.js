// The account page's security sections (two-factor authentication, passkeys, app passwords) and
// the step-up prompt that any sensitive request can open.

import * as API from './api.js';
import { api } from './api.js';
import { h, clear, put, field, errorBox, showError, fmtDate, toast, copyText, downloadText } from './dom.js';
import { passkeysSupported, registerPasskey } from './webauthn.js';

const enc = encodeURIComponent;

/// Attributes of a six-digit code field (numeric keyboard on phones, one-time-code autofill).
const CODE_ATTRS = {
  name: 'code', required: true, autocomplete: 'one-time-code', inputmode: 'numeric',
  pattern: '[0-9 ]{6,7}', maxlength: 7, spellcheck: 'false',
};

/// The prompt behind API.onStepUp: password (and a code when the account has 2FA), then
/// `POST /api/me/2fa/step-up`. Resolves to true when the session is fresh again.
export async function stepUpDialog() {
  let has2fa = true;
  try {
    has2fa = !!(await api('/api/me/2fa', { noStepUp: true })).totp;
  } catch { /* ask for a code anyway; the server ignores it when there is no second factor */ }
  return new Promise((resolve) => {
    const err = errorBox();
    const pw = field('Password', { name: 'password', type: 'password', required: true, autocomplete: 'current-password' });
    const code = has2fa
      ? field('Authentication code', { name: 'code', required: true, autocomplete: 'one-time-code', spellcheck: 'false', autocapitalize: 'off' },
        'The six-digit code from your authenticator app, or a recovery code.')
      : null;
    const submit = h('button', { type: 'submit', class: 'primary', text: 'Confirm' });
    const form = h('form', {},
      h('h2', { id: 'stepup-h', text: 'Confirm it is you' }),
      h('p', { text: `This change needs a recent sign-in. Enter your password${has2fa ? ' and a code' : ''} to continue.` }),
      pw, code, err,
      h('div', { class: 'actions' }, submit, h('button', { type: 'button', onclick: () => dlg.close() }, 'Cancel')));
    const dlg = h('dialog', { class: 'dialog', 'aria-labelledby': 'stepup-h' }, form);
    let ok = false;
    dlg.addEventListener('close', () => { dlg.remove(); resolve(ok); });
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      err.hidden = true;
      submit.disabled = true;
      try {
        await API.stepUpWith(pw.querySelector('input').value, code ? code.querySelector('input').value : '');
        ok = true;
        dlg.close();
        return;
      } catch (ex) {
        if (ex.status === 403) showError(err, 'This session was opened with an app password, which cannot make this change. Sign out and sign in with your password.');
        else showError(err, ex);
        if (ex.status === 429 && ex.retryAfter) {
          setTimeout(() => { submit.disabled = false; }, ex.retryAfter * 1000);
          return;
        }
      }
      submit.disabled = false;
    });
    document.body.append(dlg);
    dlg.showModal();
    pw.querySelector('input').focus();
  });
}

/// The ten recovery codes, shown once, with copy, download and an acknowledgement.
function recoveryCodesPanel(codes, intro, onDone) {
  const me = API.currentUser();
  const text = [`Shelfwarden recovery codes for ${me ? me.username : ''} at ${location.host}`,
    `Made ${new Date().toLocaleString()}. Each code works once, in place of a code from the authenticator app.`,
    '', ...codes, ''].join('\n');
  const ack = h('input', { type: 'checkbox', name: 'saved' });
  const done = h('button', { type: 'button', class: 'primary', disabled: true, onclick: onDone }, 'Done');
  ack.addEventListener('change', () => { done.disabled = !ack.checked; });
  return h('div', { class: 'secret', role: 'region', 'aria-labelledby': 'codes-h' },
    h('h3', { id: 'codes-h', text: 'Save your recovery codes' }),
    h('p', { text: intro }),
    h('p', { text: 'If you lose your phone, each of these codes signs you in once instead of a code from the app. They are shown only now: put them in a password manager, download them, or print them.' }),
    h('ol', { class: 'codes', 'aria-label': 'Recovery codes' }, codes.map((c) => h('li', {}, h('code', { text: c })))),
    h('div', { class: 'actions' },
      h('button', { type: 'button', onclick: () => copyText(codes.join('\n'), 'Recovery codes copied.') }, 'Copy'),
      h('button', { type: 'button', onclick: () => downloadText('shelfwarden-recovery-codes.txt', text) }, 'Download .txt')),
    h('p', {}, h('label', { class: 'check' }, ack, 'I have saved them')),
    done);
}

/// An <img> of the server's QR SVG through a Blob URL: the SVG never becomes part of the page's
/// DOM (no markup injection) and the CSP's img-src allows blob:.
function qrImage(svg) {
  const url = URL.createObjectURL(new Blob([svg], { type: 'image/svg+xml' }));
  const img = h('img', { src: url, alt: 'QR code to scan with your authenticator app', width: 200, height: 200, class: 'qr' });
  img.addEventListener('load', () => URL.revokeObjectURL(url), { once: true });
  return img;
}

const grouped = (secret) => (secret.match(/.{1,4}/g) || []).join(' ');

/// Account → Two-factor authentication: status, enrolment with QR and key, recovery codes, turning off.
export function twoFactorSection(onChanged) {
  const body = h('div', { class: 'section-body' });
  const err = errorBox();
  const section = h('section', { class: 'card', id: 'two-factor', 'aria-labelledby': 'tfa-h' },
    h('h2', { id: 'tfa-h', text: 'Two-factor authentication' }), body, err);
  const fail = (ex) => showError(err, ex);

  const showCodes = (codes, intro, after) => {
    clear(body).append(recoveryCodesPanel(codes, intro, after));
    body.querySelector('.codes').scrollIntoView({ block: 'nearest' });
  };

  const enrol = async () => {
    err.hidden = true;
    let r;
    try {
      r = await api('/api/me/2fa/totp/enroll', { method: 'POST' });
    } catch (ex) { fail(ex); return; }
    const code = field('Code from the app', { ...CODE_ATTRS }, 'The six digits it shows now, to prove it is set up right.');
    const ferr = errorBox();
    const submit = h('button', { type: 'submit', class: 'primary', text: 'Turn on' });
    const form = h('form', { class: 'enrol', 'aria-label': 'Set up two-factor authentication' },
      h('ol', { class: 'steps' },
        h('li', {},
          h('p', { text: 'Scan this QR code with your authenticator app (Aegis, 2FAS, Google Authenticator, a password manager…).' }),
          r.qrSvg ? qrImage(r.qrSvg) : null,
          h('p', { class: 'muted' }, 'On this phone? ', h('a', { href: r.otpauthUri, text: 'Open it in the authenticator app' }), '.')),
        h('li', {},
          h('p', { text: 'Or type this key into the app (time-based, six digits, 30 seconds):' }),
          h('p', {}, h('code', { class: 'totp-secret', 'aria-label': 'Secret key', text: grouped(r.secret) }),
            ' ', h('button', { type: 'button', class: 'small', onclick: () => copyText(r.secret, 'Key copied.') }, 'Copy key'))),
        h('li', {}, code)),
      ferr,
      h('div', { class: 'actions' }, submit, h('button', { type: 'button', onclick: () => load().catch(fail) }, 'Cancel')));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      ferr.hidden = true;
      submit.disabled = true;
      try {
        const c = await api('/api/me/2fa/totp/confirm', { method: 'POST', body: { code: code.querySelector('input').value.replace(/\s/g, '') } });
        API.setEnrolmentRequired(false);
        showCodes(c.recoveryCodes, 'Two-factor authentication is on.', onChanged);
        toast('Two-factor authentication is on.');
      } catch (ex) { showError(ferr, ex); }
      submit.disabled = false;
    });
    clear(body).append(form);
    code.querySelector('input').focus();
  };

  const turnOff = () => {
    err.hidden = true;
    const ferr = errorBox();
    const pw = field('Password', { name: 'password', type: 'password', required: true, autocomplete: 'current-password' });
    const code = field('Code or recovery code', { name: 'code', required: true, autocomplete: 'one-time-code', spellcheck: 'false', autocapitalize: 'off' },
      'A code from your authenticator app, or one of your recovery codes.');
    const submit = h('button', { type: 'submit', class: 'primary danger-fill', text: 'Turn off two-factor authentication' });
    const form = h('form', { class: 'enrol', 'aria-label': 'Turn off two-factor authentication' },
      h('p', { text: 'Your password alone will open your account again; your recovery codes and passkeys stop working.' }),
      pw, code, ferr,
      h('div', { class: 'actions' }, submit, h('button', { type: 'button', onclick: () => load().catch(fail) }, 'Cancel')));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      ferr.hidden = true;
      submit.disabled = true;
      const entry = code.querySelector('input').value.trim();
      const digits = entry.replace(/[\s-]/g, '');
      const factor = /^\d{6}$/.test(digits) ? { code: digits } : { recoveryCode: entry };
      try {
        await api('/api/me/2fa/totp', { method: 'DELETE', body: { password: pw.querySelector('input').value, ...factor } });
        toast('Two-factor authentication is off.');
        onChanged();
        return;
      } catch (ex) { showError(ferr, ex); }
      submit.disabled = false;
    });
    clear(body).append(form);
    pw.querySelector('input').focus();
  };

  const newCodes = async () => {
    err.hidden = true;
    try {
      const r = await api('/api/me/2fa/recovery-codes', { method: 'POST' });
      showCodes(r.recoveryCodes, 'New recovery codes: the old ones no longer work.', () => load().catch(fail));
    } catch (ex) { fail(ex); }
  };

  const load = async () => {
    err.hidden = true;
    const s = await api('/api/me/2fa');
    if (s.totp) {
      const left = s.recoveryCodesRemaining;
      put(body,
        h('p', { class: 'status' }, h('strong', { class: 'state-on', text: 'On.' }),
          ` Signing in asks for a code from your authenticator app. ${left} of 10 recovery codes left.`),
        left <= 3 ? h('p', { class: 'notice', text: 'Few recovery codes are left: make new ones.' }) : null,
        h('div', { class: 'actions' },
          h('button', { type: 'button', onclick: newCodes }, 'New recovery codes'),
          h('button', { type: 'button', class: 'danger', onclick: turnOff }, 'Turn off')));
    } else {
      put(body,
        h('p', { class: 'status' }, h('strong', { class: 'state-off', text: 'Off.' }),
          ' Add a code from an authenticator app to your password, so that a stolen password alone cannot open your account.'),
        s.required ? h('p', { class: 'notice', text: 'Your server requires two-factor authentication for your account.' }) : null,
        h('button', { type: 'button', class: 'primary', onclick: enrol }, 'Set up two-factor authentication'));
    }
  };
  return { section, load };
}

const SCOPES = [
  ['read', 'Read', 'browse and listen'],
  ['progress', 'Progress', 'save listening progress and bookmarks'],
  ['upload', 'Upload', 'add books'],
  ['admin', 'Admin', 'administer the server'],
];

/// Account → App passwords: for apps that can only send a username and a password.
export function appPasswordsSection() {
  const err = errorBox();
  const list = h('div');
  const secret = h('div', { class: 'secret', hidden: true, role: 'status' });
  const me = API.currentUser();
  const load = async () => {
    const { appPasswords } = await api('/api/me/app-passwords');
    clear(list).append(appPasswords.length
      ? h('table', { class: 'table' },
        h('thead', {}, h('tr', {}, ['Name', 'Scopes', 'Created', 'Last used', ''].map((t) => h('th', { scope: 'col', text: t })))),
        h('tbody', {}, appPasswords.map((p) => h('tr', {},
          h('td', { 'data-label': 'Name', text: p.name }),
          h('td', { 'data-label': 'Scopes', text: (p.scopes || []).join(', ') }),
          h('td', { 'data-label': 'Created', text: fmtDate(p.createdAt) }),
          h('td', { 'data-label': 'Last used', text: p.lastUsedAt ? fmtDate(p.lastUsedAt) : 'Never' }),
          h('td', {}, h('button', {
            type: 'button', class: 'small danger', 'aria-label': `Revoke ${p.name}`,
            onclick: async () => {
              err.hidden = true;
              try {
                await api(`/api/me/app-passwords/${enc(p.id)}`, { method: 'DELETE' });
                secret.hidden = true;
                toast(`App password “${p.name}” revoked; the devices using it are signed out.`);
                await load();
              } catch (ex) { showError(err, ex); }
            },
          }, 'Revoke'))))))
      : h('p', { class: 'muted', text: 'No app passwords.' }));
  };
  const scopes = SCOPES.filter(([s]) => s !== 'admin' || API.isAdmin());
  const submit = h('button', { type: 'submit', class: 'primary', text: 'Create app password' });
  const form = h('form', { 'aria-labelledby': 'nap-h' },
    h('h3', { id: 'nap-h', text: 'Create an app password' }),
    field('Device or app', { name: 'name', required: true, maxlength: 100, autocomplete: 'off' }, 'For example “Car” or “Old tablet”: one password per device, so you can revoke one alone.'),
    h('fieldset', {}, h('legend', { text: 'Allowed' }),
      scopes.map(([value, label, what]) => h('label', { class: 'check' },
        h('input', { type: 'checkbox', name: 'scopes', value, checked: value === 'read' || value === 'progress' }),
        h('span', {}, label, h('span', { class: 'muted', text: ` (${what})` }))))),
    err, submit);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.hidden = true;
    const f = new FormData(form);
    const chosen = f.getAll('scopes');
    if (!chosen.length) { showError(err, 'Choose at least one thing the app password may do.'); return; }
    submit.disabled = true;
    try {
      const r = await api('/api/me/app-passwords', { method: 'POST', body: { name: f.get('name').trim(), scopes: chosen } });
      clear(secret).append(
        h('p', { text: `App password for “${r.name}”. Copy it now; it is not shown again:` }),
        h('p', {}, h('code', { class: 'app-password', text: r.password }), ' ',
          h('button', { type: 'button', class: 'small', onclick: () => copyText(r.password, 'App password copied.') }, 'Copy')),
        h('p', { class: 'muted', text: `Enter it in the app's password field, with your username ${me ? me.username : ''}.` }));
      secret.hidden = false;
      form.reset();
      await load();
    } catch (ex) { showError(err, ex); }
    submit.disabled = false;
  });
  const section = h('section', { class: 'card', id: 'app-passwords', 'aria-labelledby': 'ap-h' },
    h('h2', { id: 'ap-h', text: 'App passwords' }),
    h('p', { class: 'muted', text: 'For apps and devices that can only send a username and a password (older apps, car stereos, scripts). An app password skips the second factor, works only for what you allow, and can never change your account’s security.' }),
    secret, list, form);
  return { section, load };
}

/// Account → Passkeys: sign in with the phone's or computer's screen lock or a security key.
export function passkeysSection() {
  const err = errorBox();
  const list = h('div');
  const note = h('p', { class: 'notice', hidden: true });
  const load = async () => {
    const [r, status] = await Promise.all([api('/api/me/passkeys'), api('/api/me/2fa')]);
    const keys = r.passkeys || [];
    // A passkey is an alternative to the authenticator app, so the server wants TOTP on first.
    const why = !status.totp ? 'Turn on two-factor authentication above first: a passkey is an alternative to its codes.'
      : !passkeysSupported() ? 'This browser cannot use passkeys at this address: they need HTTPS (or localhost).' : '';
    note.textContent = why;
    note.hidden = !why;
    form.hidden = !!why;
    clear(list).append(keys.length
      ? h('table', { class: 'table' },
        h('thead', {}, h('tr', {}, ['Name', 'Created', 'Last used', ''].map((t) => h('th', { scope: 'col', text: t })))),
        h('tbody', {}, keys.map((k) => h('tr', {},
          h('td', { 'data-label': 'Name', text: k.name }),
          h('td', { 'data-label': 'Created', text: fmtDate(k.createdAt) }),
          h('td', { 'data-label': 'Last used', text: k.lastUsedAt ? fmtDate(k.lastUsedAt) : 'Never' }),
          h('td', {}, h('button', {
            type: 'button', class: 'small danger', 'aria-label': `Remove passkey ${k.name}`,
            onclick: async () => {
              err.hidden = true;
              try {
                await api(`/api/me/passkeys/${enc(k.id)}`, { method: 'DELETE' });
                toast(`Passkey “${k.name}” removed.`);
                await load();
              } catch (ex) { showError(err, ex); }
            },
          }, 'Remove'))))))
      : h('p', { class: 'muted', text: 'No passkeys yet.' }));
  };
  const submit = h('button', { type: 'submit', class: 'primary', text: 'Add a passkey' });
  const form = h('form', { 'aria-labelledby': 'npk-h' },
    h('h3', { id: 'npk-h', text: 'Add a passkey' }),
    field('Passkey name', { name: 'name', required: true, maxlength: 100, autocomplete: 'off' }, 'Which device or key it lives on, e.g. “Laptop” or “Phone”.'),
    err, submit);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.hidden = true;
    submit.disabled = true;
    const name = new FormData(form).get('name').trim();
    try {
      await registerPasskey(name);
      toast(`Passkey “${name}” added.`);
      form.reset();
      await load();
    } catch (ex) { showError(err, ex); }
    submit.disabled = false;
  });
  const section = h('section', { class: 'card', id: 'passkeys', 'aria-labelledby': 'pk-h' },
    h('h2', { id: 'pk-h', text: 'Passkeys' }),
    h('p', { class: 'muted', text: 'A passkey signs you in with this device’s screen lock or a security key, without a password, and also counts as a second factor.' }),
    list, note, form);
  return { section, load };
}
