// The API client. The access token lives in this module's memory only; the refresh token stays
// in the HttpOnly cookie the server set, so a script injected into the page could not steal a
// long-lived credential, and a reload recovers the session with POST /auth/refresh.

let accessToken = null;
let me = null;
let defaultLibraryId = null;
let refreshing = null;
const listeners = new Set();

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

function setSession(body) {
  accessToken = body && body.user ? body.user.accessToken : null;
  me = body ? body.user : null;
  if (body && body.userDefaultLibraryId) defaultLibraryId = body.userDefaultLibraryId;
  for (const fn of listeners) fn(me);
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

export async function login(username, password) {
  const r = await fetch('/login', {
    method: 'POST',
    headers: { ...XRW, 'Content-Type': 'application/json' },
    credentials: 'same-origin',
    body: JSON.stringify({ username, password }),
  });
  if (r.status === 401) throw new ApiError(401, 'Wrong username or password.');
  if (!r.ok) throw await errorFrom(r);
  setSession(await r.json());
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

/// Calls the API with the in-memory token; on 401 refreshes once and retries.
export async function api(path, { method = 'GET', body, raw = false, keepalive = false } = {}) {
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
  if (r.status === 401 && await refresh()) r = await send();
  if (r.status === 401) {
    setSession(null);
    throw new ApiError(401, 'Your session has ended. Sign in again.');
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
