// Passkeys (WebAuthn). The server speaks webauthn-rs's JSON: binary fields are base64url without
// padding. This module turns its options into the ArrayBuffers navigator.credentials wants, and
// the browser's credential back into that JSON.

import * as API from './api.js';
import { api, ApiError } from './api.js';

/// WebAuthn needs a secure context (HTTPS, or http://localhost) and a browser that has it.
export const passkeysSupported = () => !!(window.isSecureContext && window.PublicKeyCredential && navigator.credentials);

function fromB64url(s) {
  const b64 = String(s).replace(/-/g, '+').replace(/_/g, '/');
  const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out.buffer;
}

function toB64url(buf) {
  let bin = '';
  for (const b of new Uint8Array(buf)) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/// Drops nulls: the browser rejects `null` where it expects an enum or a dictionary.
function withoutNulls(v) {
  if (Array.isArray(v)) return v.map(withoutNulls);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== null).map(([k, x]) => [k, withoutNulls(x)]));
  }
  return v;
}

const withIds = (list) => (list || []).map((c) => ({ ...c, id: fromB64url(c.id) }));

function creationOptions(options) {
  const pk = withoutNulls(options.publicKey || {});
  pk.challenge = fromB64url(pk.challenge);
  pk.user = { ...pk.user, id: fromB64url(pk.user.id) };
  if (pk.excludeCredentials) pk.excludeCredentials = withIds(pk.excludeCredentials);
  // webauthn-rs's passkey registration says residentKey "discouraged", but "Sign in with a
  // passkey" (no username) only finds discoverable credentials: prefer one where the
  // authenticator can store it. The server accepts either kind.
  const sel = pk.authenticatorSelection;
  if (sel && sel.residentKey === 'discouraged') pk.authenticatorSelection = { ...sel, residentKey: 'preferred' };
  return { publicKey: pk };
}

function requestOptions(options) {
  const pk = withoutNulls(options.publicKey || {});
  pk.challenge = fromB64url(pk.challenge);
  if (pk.allowCredentials) pk.allowCredentials = withIds(pk.allowCredentials);
  return { publicKey: pk };
}

function credentialJson(cred) {
  const r = cred.response;
  const response = { clientDataJSON: toB64url(r.clientDataJSON) };
  if (r.attestationObject) response.attestationObject = toB64url(r.attestationObject);
  if (r.authenticatorData) {
    response.authenticatorData = toB64url(r.authenticatorData);
    response.signature = toB64url(r.signature);
    if (r.userHandle) response.userHandle = toB64url(r.userHandle);
  }
  return { id: cred.id, rawId: toB64url(cred.rawId), type: cred.type, response, extensions: {} };
}

/// The browser's own refusals, in words: cancelled or timed out, a passkey that already exists.
function browserError(ex) {
  if (ex && ex.name === 'NotAllowedError') return new ApiError(0, 'The passkey request was cancelled or timed out.');
  if (ex && ex.name === 'InvalidStateError') return new ApiError(0, 'This authenticator already holds a passkey for your account.');
  if (ex && ex.name === 'SecurityError') return new ApiError(0, 'Passkeys do not work at this address: open Shelfwarden at its public address.');
  return ex instanceof ApiError ? ex : new ApiError(0, `The passkey did not work (${ex && ex.message ? ex.message : ex}).`);
}

async function create(options) {
  try {
    const cred = await navigator.credentials.create(creationOptions(options));
    if (!cred) throw new ApiError(0, 'No passkey was created.');
    return credentialJson(cred);
  } catch (ex) { throw browserError(ex); }
}

async function get(options) {
  try {
    const cred = await navigator.credentials.get(requestOptions(options));
    if (!cred) throw new ApiError(0, 'No passkey was chosen.');
    return credentialJson(cred);
  } catch (ex) { throw browserError(ex); }
}

/// Passwordless sign-in: `/login/passkey/start` → the authenticator → `/login/passkey/finish`.
export async function passkeySignIn() {
  const { challengeId, options } = await API.publicPost('/login/passkey/start');
  const credential = await get(options);
  return API.passkeyLogin('/login/passkey/finish', { challengeId, credential });
}

/// A passkey as the second step of a password login.
export async function passkeySecondFactor(mfaToken) {
  const { challengeId, options } = await API.publicPost('/login/2fa/passkey', { mfaToken });
  const credential = await get(options);
  return API.loginSecondStep(mfaToken, { passkey: { challengeId, credential } });
}

/// Registers a new passkey for the signed-in user under `name`.
export async function registerPasskey(name) {
  const { challengeId, options } = await api('/api/me/passkeys/register/start', { method: 'POST', body: {} });
  const credential = await create(options);
  return api('/api/me/passkeys/register/finish', { method: 'POST', body: { challengeId, name, credential } });
}
