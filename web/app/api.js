// The API client. The access token lives in this module's memory only; the refresh token stays
// in the HttpOnly cookie the server set, so a script injected into the page could not steal a
// long-lived credential, and a reload recovers the session with POST /auth/refresh.

let accessToken = null;
let me = null;
let defaultLibraryId = null;
let refreshing = null;
let enrolRequired = false;
let stepUpHandler = null;
let stepUpPending = null;
const listeners = new Set();

/// The server's words for "this session must prove the password again" and "this account must
/// enrol a second factor first"; the API client reacts to them wherever they come from.
const REAUTH = 'Re-authentication required';
const ENROL = 'Two-factor enrolment required';

export class ApiError extends Error {
  constructor(status, message, retryAfter) {
    super(message);
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

export const token = () => accessToken;
export const currentUser = () => me;
export const defaultLibrary = () => defaultLibraryId;
export const isAdmin = () => !!me && (me.type === 'admin' || me.type === 'root');
export const onAuthChange = (fn) => listeners.add(fn);
/// Whether this session may only set up two-factor authentication (the server's policy demands it).
export const enrolmentRequired = () => !!me && enrolRequired;
export function setEnrolmentRequired(value) { enrolRequired = !!value; }
/// Registers the function that asks the user to confirm their password (and code) when the server
/// wants a recent login; it resolves to true once `POST /api/me/2fa/step-up` succeeded.
export const onStepUp = (fn) => { stepUpHandler = fn; };

function setSession(body) {
  accessToken = body && body.user ? body.user.accessToken : null;
  me = body ? body.user : null;
  if (!body) enrolRequired = false;
  if (body && body.userDefaultLibraryId) defaultLibraryId = body.userDefaultLibraryId;
  for (const fn of listeners) fn(me);
}

/// A full login answer (password, second step, passkey): the refresh cookie is already set.
function loggedIn(body) {
  enrolRequired = !!body.mfaEnrollmentRequired;
  setSession(body);
  return { enrolmentRequired: enrolRequired };
}

/// The error text of a response without consuming it: JSON `{error}` or the plain-text body.
async function peekError(resp) {
  const text = await resp.clone().text().catch(() => '');
  try {
    const j = JSON.parse(text);
    return { message: j.error || j.message || '', json: j };
  } catch {
    return { message: text, json: null };
  }
}

async function errorFrom(resp) {
  let message = '';
  const text = await resp.text().catch(() => '');
  try {
    const j = JSON.parse(text);
    message = j.error || j.message || '';
  } catch {
    message = text;
  }
  const retry = Number(resp.headers.get('Retry-After')) || 0;
  if (resp.status === 429) {
    const mins = Math.ceil(retry / 60);
    const wait = !retry ? 'a few seconds' : retry < 120 ? `${retry} second${retry === 1 ? '' : 's'}` : `${mins} minutes`;
    message = `Too many attempts. Try again in ${wait}.`;
  } else if (resp.status >= 500) {
    message = 'The server had a problem. Try again.';
  } else if (!message) {
    message = resp.statusText || `Error ${resp.status}`;
  }
  return new ApiError(resp.status, message, retry);
}

// Cookie-authenticated calls send X-Requested-With: the server's cross-origin guard wants it.
const XRW = { 'X-Requested-With': 'XMLHttpRequest' };

export async function status() {
  const r = await fetch('/status', { cache: 'no-store' });
  if (!r.ok) throw await errorFrom(r);
  return r.json();
}

/// Exchanges the refresh cookie for an access token; concurrent callers share one request, since
/// the server rotates the refresh token on every use.
export function refresh() {
  if (!refreshing) {
    refreshing = (async () => {
      try {
        const r = await fetch('/auth/refresh', { method: 'POST', headers: XRW, credentials: 'same-origin' });
        if (!r.ok) { setSession(null); return false; }
        setSession(await r.json());
        return true;
      } catch {
        return false;
      } finally {
        refreshing = null;
      }
    })();
  }
  return refreshing;
}

async function postJson(path, body) {
  return fetch(path, {
    method: 'POST',
    headers: { ...XRW, 'Content-Type': 'application/json' },
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

/// `POST /login`. Resolves to `{mfa: {mfaToken, methods}}` when the account has a second factor
/// (no session yet: finish with `loginSecondStep`), else to `{enrolmentRequired}`.
export async function login(username, password) {
  const r = await postJson('/login', { username, password });
  if (r.status === 401) {
    const { json } = await peekError(r);
    if (json && json.mfaRequired && json.mfaToken) {
      return { mfa: { mfaToken: json.mfaToken, methods: json.methods || ['totp', 'recovery'] } };
    }
    throw new ApiError(401, 'Wrong username or password.');
  }
  if (!r.ok) throw await errorFrom(r);
  return loggedIn(await r.json());
}

/// `POST /login/2fa {mfaToken, code | recoveryCode | passkey}`. Every refusal reads the same.
export async function loginSecondStep(mfaToken, factor) {
  const r = await postJson('/login/2fa', { mfaToken, ...factor });
  if (r.status === 401) throw new ApiError(401, 'That did not work. Check the code and try again, or start over.');
  if (!r.ok) throw await errorFrom(r);
  return loggedIn(await r.json());
}

/// Unauthenticated POSTs of the passkey sign-in (start and finish); errors carry the server's reason.
export async function publicPost(path, body) {
  const r = await postJson(path, body);
  if (!r.ok) throw await errorFrom(r);
  return r.json();
}

/// Completes a passwordless passkey login with the `/login`-shaped answer of `path`.
export async function passkeyLogin(path, body) {
  const r = await postJson(path, body);
  if (r.status === 401) throw new ApiError(401, 'That passkey was not accepted.');
  if (!r.ok) throw await errorFrom(r);
  return loggedIn(await r.json());
}

export async function logout(allDevices = false) {
  await fetch(`/logout${allDevices ? '?allDevices=1' : ''}`, { method: 'POST', headers: XRW, credentials: 'same-origin' }).catch(() => {});
  setSession(null);
}

export async function init(setupToken, username, password) {
  const r = await fetch('/init', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ setupToken, newRoot: { username, password } }),
  });
  if (!r.ok) throw await errorFrom(r);
}

/// Shares one open step-up prompt between requests that need it at the same time.
function stepUp() {
  if (!stepUpPending) {
    stepUpPending = Promise.resolve()
      .then(() => stepUpHandler())
      .catch(() => false)
      .finally(() => { stepUpPending = null; });
  }
  return stepUpPending;
}

/// `POST /api/me/2fa/step-up`: a six-digit entry is a TOTP code, anything else a recovery code.
export async function stepUpWith(password, code) {
  const entry = (code || '').trim();
  const digits = entry.replace(/[\s-]/g, '');
  const factor = !entry ? {} : /^\d{6}$/.test(digits) ? { code: digits } : { recoveryCode: entry };
  await api('/api/me/2fa/step-up', { method: 'POST', body: { password, ...factor }, noStepUp: true });
}

/// Calls the API with the in-memory token; on 401 refreshes once and retries. A 403 asking for a
/// recent login opens the step-up prompt and, once the user confirmed, retries the request once.
export async function api(path, opts = {}) {
  const { method = 'GET', body, raw = false, keepalive = false, noStepUp = false, steppedUp = false } = opts;
  const send = () => fetch(path, {
    method,
    keepalive,
    headers: {
      ...(accessToken ? { Authorization: `Bearer ${accessToken}` } : {}),
      ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
    },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  let r = await send();
  // A JSON 401 is a refused password or code in the request itself, not an ended session.
  if (r.status === 401 && (await peekError(r)).json) throw new ApiError(401, 'Wrong password or code.');
  if (r.status === 401 && await refresh()) r = await send();
  if (r.status === 401) {
    setSession(null);
    throw new ApiError(401, 'Your session has ended. Sign in again.');
  }
  if (r.status === 403) {
    const { message } = await peekError(r);
    if (message === REAUTH && !noStepUp && stepUpHandler) {
      if (await stepUp()) return api(path, { ...opts, noStepUp: true, steppedUp: true });
      throw new ApiError(403, 'Not changed: this needs you to confirm your password first.');
    }
    if (message === REAUTH && steppedUp) {
      throw new ApiError(403, 'Not changed: the server still asks for a more recent sign-in (is its step-up window 0?).');
    }
    if (message === ENROL) {
      const was = enrolRequired;
      enrolRequired = true;
      if (!was) for (const fn of listeners) fn(me);
      const e = new ApiError(403, 'Set up two-factor authentication first: your account requires it.');
      e.enrol = true;
      throw e;
    }
  }
  if (!r.ok) throw await errorFrom(r);
  if (raw) return r;
  const type = r.headers.get('Content-Type') || '';
  return type.includes('json') ? r.json() : r.text();
}

/// A URL for <img>/<audio>, which cannot send headers; the server accepts ?token= on these routes.
export function withToken(url) {
  return `${url}${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(accessToken || '')}`;
}

export const coverUrl = (itemId) => withToken(`/api/items/${encodeURIComponent(itemId)}/cover`);

/// A stable id for this browser, so the server's session list names the device.
export function deviceId() {
  let id = localStorage.getItem('sw-device');
  if (!id) {
    id = crypto.randomUUID();
    localStorage.setItem('sw-device', id);
  }
  return id;
}
