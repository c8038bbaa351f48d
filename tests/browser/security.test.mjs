// The account security pages in real Chromium against the real binary: enrolling TOTP (the code
// computed here from the secret the page shows), recovery codes saved and used once, the second
// sign-in step, app passwords that then log in through POST /login, the enrolment the policy
// demands, the step-up prompt that retries the refused change (once), throttling of the second
// step, and passkeys through Chromium's virtual authenticator (registration, second factor,
// passwordless). Any CSP violation or uncaught page error fails the run. Screenshots go to
// docs/screenshots/.
//
// Run: SHELFWARDEN_BIN=target/debug/shelfwarden node --test tests/browser/

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BIN, SHOTS, cleanEnv, startServer, freePort, launchBrowser, watch, shot } from './harness.mjs';

const ALICE = ['alice', 'copper lantern orchard nineteen'];
const BOB = ['bob', 'quiet harbour violet engine 8'];
const CAROL = ['carol', 'amber meadow kettle drum 55'];

let tmp;
let browser;
const violations = [];
const pageErrors = [];
const servers = [];

// ---- RFC 6238 in a few lines: base32 by hand, HMAC-SHA1 from node:crypto ----

function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of text.replace(/[\s=]/g, '').toUpperCase()) {
    const i = alphabet.indexOf(ch);
    if (i < 0) throw new Error(`not base32: ${ch}`);
    value = ((value << 5) | i) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

function hotp(key, counter, digits = 6) {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', key).update(msg).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const n = (mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** digits;
  return String(n).padStart(digits, '0');
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/// An authenticator app: the server takes each 30-second step once and also the next step (clock
/// drift), so a fresh code is the current step's or the next one's, else wait for the clock.
class Authenticator {
  constructor(secret) {
    this.key = base32Decode(secret);
    this.last = -1;
  }

  async code() {
    for (;;) {
      const now = Math.floor(Date.now() / 30000);
      for (const step of [now, now + 1]) {
        if (step > this.last) {
          this.last = step;
          return hotp(this.key, step);
        }
      }
      await sleep(1000);
    }
  }

  /// A six-digit string that is no valid code around now.
  wrong() {
    const now = Math.floor(Date.now() / 30000);
    const valid = new Set([-2, -1, 0, 1, 2].map((d) => hotp(this.key, now + d)));
    let n = 0;
    while (valid.has(String(n).padStart(6, '0'))) n++;
    return String(n).padStart(6, '0');
  }
}

test('the TOTP helper matches RFC 6238 (SHA-1, T = 59 s)', () => {
  const key = Buffer.from('12345678901234567890');
  assert.equal(hotp(key, Math.floor(59 / 30), 8), '94287082');
  assert.equal(hotp(key, Math.floor(1111111109 / 30), 8), '07081804');
  // base32 of the same key, as an authenticator app would be given it.
  assert.deepEqual(base32Decode('GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ'), key);
});

// ---- servers and pages ----

function makeServer(name, users, env, port = 0) {
  const dir = mkdtempSync(path.join(tmp, `${name}-`));
  const data = path.join(dir, 'data');
  mkdirSync(data);
  mkdirSync(path.join(dir, 'library'));
  for (const [[username, password], admin] of users) {
    execFileSync(BIN, ['--data', data, 'user', 'add', username, ...(admin ? ['--admin'] : []), '--password-stdin'],
      { input: `${password}\n`, stdio: ['pipe', 'ignore', 'inherit'], env: cleanEnv() });
  }
  return startServer(data, path.join(dir, 'library'), env, port).then((s) => { servers.push(s.child); return s.base; });
}

async function newPage(base, viewport = { width: 1280, height: 800 }, colorScheme = 'light') {
  const context = await browser.newContext({ viewport, baseURL: base, acceptDownloads: true, colorScheme });
  const page = await context.newPage();
  watch(page, violations, pageErrors);
  return page;
}

async function passwordStep(page, [username, password]) {
  await page.goto('/#/login');
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

async function signOut(page) {
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
}

async function postLogin(base, username, password) {
  return fetch(`${base}/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'x-return-tokens': 'true' },
    body: JSON.stringify({ username, password }),
  });
}

/// Enrols TOTP from the account page; returns the authenticator and the ten recovery codes.
async function enrolTotp(page, { screenshotName, started = false } = {}) {
  const section = page.getByRole('region', { name: 'Two-factor authentication' });
  if (!started) await section.getByRole('button', { name: 'Set up two-factor authentication' }).click();
  const qr = section.getByRole('img', { name: 'QR code to scan with your authenticator app' });
  await qr.waitFor();
  // The QR code is a Blob URL image of the server's SVG: it must actually render under the CSP.
  await page.waitForFunction(() => {
    const img = document.querySelector('img.qr');
    return img && img.complete && img.naturalWidth > 0;
  });
  assert.match(await qr.getAttribute('src'), /^blob:/);
  const secret = (await section.getByLabel('Secret key').textContent()).replace(/\s/g, '');
  assert.match(secret, /^[A-Z2-7]{16,}$/);
  if (screenshotName) await shot(page, screenshotName, 'desktop');
  const app = new Authenticator(secret);
  const codeField = section.getByLabel('Code from the app');
  assert.equal(await codeField.getAttribute('autocomplete'), 'one-time-code');
  assert.equal(await codeField.getAttribute('inputmode'), 'numeric');
  await codeField.fill(app.wrong());
  await section.getByRole('button', { name: 'Turn on' }).click();
  await section.getByRole('alert').filter({ hasText: 'Invalid code' }).waitFor();
  await codeField.fill(await app.code());
  await section.getByRole('button', { name: 'Turn on' }).click();
  const list = section.getByRole('list', { name: 'Recovery codes' });
  await list.waitFor();
  const codes = (await list.locator('li').allTextContents()).map((c) => c.trim());
  assert.equal(codes.length, 10);
  assert.equal(new Set(codes).size, 10);
  return { app, codes, section };
}

before(async () => {
  tmp = mkdtempSync(path.join(tmpdir(), 'sw-security-'));
  mkdirSync(SHOTS, { recursive: true });
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  for (const child of servers) child.kill('SIGTERM');
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('two-factor sign-in, recovery codes and app passwords', async (t) => {
  const base = await makeServer('tfa', [[ALICE, true]], {});
  const page = await newPage(base);
  let app;
  let codes;

  await t.test('enrol TOTP on the account page and save the recovery codes', async () => {
    await passwordStep(page, ALICE);
    await page.getByRole('button', { name: 'Sign out', exact: true }).waitFor();
    await page.getByRole('link', { name: 'Account' }).click();
    const off = page.getByRole('region', { name: 'Two-factor authentication' });
    await off.getByText('Off.').waitFor();
    let section;
    ({ app, codes, section } = await enrolTotp(page, { screenshotName: 'account-2fa-enrol' }));
    const done = section.getByRole('button', { name: 'Done' });
    assert.ok(await done.isDisabled(), 'Done waits for the acknowledgement');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      section.getByRole('button', { name: 'Download .txt' }).click(),
    ]);
    assert.equal(download.suggestedFilename(), 'shelfwarden-recovery-codes.txt');
    const saved = readFileSync(await download.path(), 'utf8');
    for (const c of codes) assert.ok(saved.includes(c), `the file holds ${c}`);
    await shot(page, 'account-2fa-codes', 'desktop');
    await section.getByLabel('I have saved them').check();
    await done.click();
    await section.getByText('On.').waitFor();
    await section.getByText('10 of 10 recovery codes left').waitFor();
    // The password alone no longer opens a session.
    const r = await postLogin(base, ...ALICE);
    assert.equal(r.status, 401);
    assert.equal((await r.json()).mfaRequired, true);
  });

  await t.test('an app password is shown once and logs in through POST /login', async () => {
    const section = page.getByRole('region', { name: 'App passwords' });
    await section.getByText('No app passwords.').waitFor();
    await section.getByLabel('Device or app').fill('Car stereo');
    // Admins may grant admin; the defaults are read and progress.
    assert.ok(await section.getByRole('checkbox', { name: /^Read/ }).isChecked());
    assert.ok(await section.getByRole('checkbox', { name: /^Progress/ }).isChecked());
    assert.ok(!(await section.getByRole('checkbox', { name: /^Admin/ }).isChecked()));
    await section.getByRole('checkbox', { name: /^Progress/ }).uncheck();
    await section.getByRole('button', { name: 'Create app password' }).click();
    const shown = section.locator('code.app-password');
    await shown.waitFor();
    const password = (await shown.textContent()).trim();
    await section.getByRole('cell', { name: 'Car stereo', exact: true }).waitFor();
    await section.getByRole('cell', { name: 'read', exact: true }).waitFor();
    assert.ok(!/\b(null|undefined)\b/.test(await page.locator('main').textContent()), 'no null or undefined shown as text');
    await page.setViewportSize({ width: 1280, height: 1400 });
    await page.getByRole('heading', { name: 'Account', exact: true }).scrollIntoViewIfNeeded();
    await shot(page, 'account-security', 'desktop');
    await page.setViewportSize({ width: 1280, height: 800 });

    const r = await postLogin(base, ALICE[0], password);
    assert.equal(r.status, 200, 'the app password logs in without the second factor');
    const token = (await r.json()).user.accessToken;
    const me = await fetch(`${base}/api/me`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(me.status, 200);
    // Read scope only: saving progress is refused.
    const progress = await fetch(`${base}/api/me/progress/nothing`, {
      method: 'PATCH', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: '{}',
    });
    assert.equal(progress.status, 403);

    await section.getByRole('button', { name: 'Revoke Car stereo' }).click();
    await section.getByText('No app passwords.').waitFor();
    assert.equal((await postLogin(base, ALICE[0], password)).status, 401, 'a revoked app password is refused');
    await signOut(page);
  });

  await t.test('without public_url, the passkey button says what is missing', async () => {
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await page.getByRole('alert').filter({ hasText: 'Passkeys need public_url to be set' }).waitFor();
  });

  await t.test('password, then a code from the app', async () => {
    await passwordStep(page, ALICE);
    await page.getByRole('heading', { name: 'Two-factor authentication' }).waitFor();
    const code = page.getByLabel('Authentication code');
    assert.equal(await code.getAttribute('autocomplete'), 'one-time-code');
    assert.equal(await code.getAttribute('inputmode'), 'numeric');
    await code.fill(app.wrong());
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('alert').filter({ hasText: 'That did not work' }).waitFor();
    await shot(page, 'login-2fa', 'desktop');
    await code.fill(await app.code());
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('button', { name: 'Sign out', exact: true }).waitFor();
    await page.getByRole('heading', { name: 'Home' }).waitFor();
    await signOut(page);
  });

  await t.test('a recovery code signs in once', async () => {
    await passwordStep(page, ALICE);
    await page.getByRole('button', { name: 'Use a recovery code' }).click();
    await page.getByLabel('Recovery code').fill(codes[0].toLowerCase());
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('button', { name: 'Sign out', exact: true }).waitFor();
    await page.getByRole('link', { name: 'Account' }).click();
    await page.getByText('9 of 10 recovery codes left').waitFor();
    await signOut(page);

    await passwordStep(page, ALICE);
    await page.getByRole('button', { name: 'Use a recovery code' }).click();
    await page.getByLabel('Recovery code').fill(codes[0]);
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('alert').filter({ hasText: 'That did not work' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Sign out', exact: true }).count(), 0);
    await page.getByRole('button', { name: 'Start over' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  });

  await t.test('phone width, dark theme: the second step and the account page', async () => {
    const phone = await newPage(base, { width: 390, height: 844 }, 'dark');
    await passwordStep(phone, ALICE);
    await phone.getByRole('heading', { name: 'Two-factor authentication' }).waitFor();
    // No passkey registered: the second step does not offer one.
    assert.equal(await phone.getByRole('button', { name: 'Use a passkey' }).count(), 0);
    await phone.getByRole('button', { name: 'Use a recovery code' }).click();
    await phone.getByLabel('Recovery code').fill(codes[1]);
    await phone.getByRole('button', { name: 'Verify' }).click();
    await phone.getByRole('button', { name: 'Sign out', exact: true }).waitFor();
    await phone.goto('/#/account');
    await phone.getByRole('region', { name: 'Two-factor authentication' }).getByText('On.').waitFor();
    await phone.getByRole('region', { name: 'Two-factor authentication' }).scrollIntoViewIfNeeded();
    await shot(phone, 'account-security', 'phone');
    await phone.context().close();
  });

  await page.context().close();
  assert.deepEqual(violations, [], 'Content-Security-Policy violations');
  assert.deepEqual(pageErrors, [], 'uncaught errors in the page');
});

test('enrolment the policy demands, and step-up before sensitive changes', async (t) => {
  // Every user must enrol; a login counts as recent for 3 s only.
  const WINDOW = 3;
  const base = await makeServer('stepup', [[BOB, false]], {
    SHELFWARDEN_REQUIRE_2FA: 'everyone',
    SHELFWARDEN_STEP_UP_WINDOW_SECS: String(WINDOW),
  });
  const page = await newPage(base);
  let lastAuth = 0;
  /// Waits until the session's last authentication is older than the window (the server's clock
  /// is this machine's clock): a wait for a state, not an assertion about time.
  const stale = async () => {
    const until = lastAuth + WINDOW * 1000 + 500;
    while (Date.now() < until) await sleep(until - Date.now());
  };
  let app;

  await t.test('a user who must enrol is sent to the account page', async () => {
    await passwordStep(page, BOB);
    await page.getByRole('heading', { name: 'Account', exact: true }).waitFor();
    lastAuth = Date.now();
    await page.getByText('Your server requires two-factor authentication for your account. Set it up below').waitFor();
    // The rest of the app stays closed until then.
    await page.getByRole('link', { name: 'Home' }).click();
    await page.waitForFunction(() => location.hash === '#/account');
    await page.getByRole('heading', { name: 'Account', exact: true }).waitFor();
    assert.equal(await page.getByRole('region', { name: 'App passwords' }).count(), 0);
  });

  await t.test('a stale session confirms the password, then the enrolment goes through', async () => {
    await stale();
    const section = page.getByRole('region', { name: 'Two-factor authentication' });
    await section.getByRole('button', { name: 'Set up two-factor authentication' }).click();
    const dialog = page.getByRole('dialog', { name: 'Confirm it is you' });
    await dialog.waitFor();
    // No second factor yet: the prompt asks for the password only.
    assert.equal(await dialog.getByLabel('Authentication code').count(), 0);
    await dialog.getByLabel('Password').fill('not my password at all');
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    await dialog.getByRole('alert').filter({ hasText: 'Wrong password or code.' }).waitFor();
    await dialog.getByLabel('Password').fill(BOB[1]);
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    await dialog.waitFor({ state: 'detached' });
    let codes;
    ({ app, codes } = await enrolTotp(page, { started: true }));
    lastAuth = Date.now(); // confirming the code counts as a fresh authentication
    assert.equal(codes.length, 10);
    await section.getByLabel('I have saved them').check();
    await section.getByRole('button', { name: 'Done' }).click();
    await section.getByText('On.').waitFor();
    await page.getByRole('link', { name: 'Home' }).click();
    await page.getByRole('heading', { name: 'Home' }).waitFor();
  });

  await t.test('with 2FA the prompt also asks for a code; the retried change succeeds', async () => {
    await page.getByRole('link', { name: 'Account' }).click();
    const section = page.getByRole('region', { name: 'Two-factor authentication' });
    await section.getByText('10 of 10 recovery codes left').waitFor();
    await stale();
    await section.getByRole('button', { name: 'New recovery codes' }).click();
    const dialog = page.getByRole('dialog', { name: 'Confirm it is you' });
    await dialog.waitFor();
    await dialog.getByLabel('Password').fill(BOB[1]);
    await dialog.getByLabel('Authentication code').fill(await app.code());
    await shot(page, 'step-up', 'desktop');
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    await dialog.waitFor({ state: 'detached' });
    lastAuth = Date.now();
    await section.getByText('New recovery codes: the old ones no longer work.').waitFor();
    const codes = (await section.getByRole('list', { name: 'Recovery codes' }).locator('li').allTextContents()).map((c) => c.trim());
    assert.equal(codes.length, 10);
    await section.getByLabel('I have saved them').check();
    await section.getByRole('button', { name: 'Done' }).click();
    await section.getByText('10 of 10 recovery codes left').waitFor();

    // Cancelling the prompt leaves things unchanged and says why.
    await stale();
    const apps = page.getByRole('region', { name: 'App passwords' });
    // Not an admin: no admin scope to offer.
    assert.equal(await apps.getByRole('checkbox', { name: /^Admin/ }).count(), 0);
    await apps.getByLabel('Device or app').fill('Tablet');
    await apps.getByRole('button', { name: 'Create app password' }).click();
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    await apps.getByRole('alert').filter({ hasText: 'Not changed' }).waitFor();
    assert.equal(await apps.getByText('No app passwords.').count(), 1);

    // A recovery code works in the prompt too.
    await apps.getByRole('button', { name: 'Create app password' }).click();
    await dialog.waitFor();
    await dialog.getByLabel('Password').fill(BOB[1]);
    await dialog.getByLabel('Authentication code').fill(codes[0]);
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    await apps.locator('code.app-password').waitFor();
    await apps.getByRole('cell', { name: 'Tablet', exact: true }).waitFor();
    const password = (await apps.locator('code.app-password').textContent()).trim();
    assert.equal((await postLogin(base, BOB[0], password)).status, 200);
  });

  await page.context().close();
  assert.deepEqual(violations, [], 'Content-Security-Policy violations');
  assert.deepEqual(pageErrors, [], 'uncaught errors in the page');
});

test('step-up is retried once only: with a window of 0 the change is refused with a reason', async () => {
  const DAVE = ['dave', 'pebble lighthouse saffron 31'];
  const base = await makeServer('window0', [[DAVE, false]], { SHELFWARDEN_STEP_UP_WINDOW_SECS: '0' });
  const page = await newPage(base);
  await passwordStep(page, DAVE);
  await page.getByRole('button', { name: 'Sign out', exact: true }).waitFor();
  await page.getByRole('link', { name: 'Account' }).click();
  const apps = page.getByRole('region', { name: 'App passwords' });
  await apps.getByLabel('Device or app').fill('Phone');
  await apps.getByRole('button', { name: 'Create app password' }).click();
  const dialog = page.getByRole('dialog', { name: 'Confirm it is you' });
  await dialog.getByLabel('Password').fill(DAVE[1]);
  await dialog.getByRole('button', { name: 'Confirm' }).click();
  await apps.getByRole('alert').filter({ hasText: 'the server still asks for a more recent sign-in' }).waitFor();
  assert.equal(await dialog.count(), 0, 'no second prompt');
  assert.equal(await apps.getByText('No app passwords.').count(), 1);
  await page.context().close();
  assert.deepEqual(violations, [], 'Content-Security-Policy violations');
  assert.deepEqual(pageErrors, [], 'uncaught errors in the page');
});

test('a throttled second step shows the wait from Retry-After', async () => {
  const ERIN = ['erin', 'lemon tractor polka winter 64'];
  const base = await makeServer('throttle2fa', [[ERIN, false]], { SHELFWARDEN_RATE_LIMIT_AUTH_MAX: '3' });
  // Enrol through the API (the UI path is covered above).
  const login = await postLogin(base, ...ERIN);
  assert.equal(login.status, 200);
  const auth = { Authorization: `Bearer ${(await login.json()).user.accessToken}`, 'Content-Type': 'application/json' };
  const { secret } = await (await fetch(`${base}/api/me/2fa/totp/enroll`, { method: 'POST', headers: auth })).json();
  const app = new Authenticator(secret);
  const confirm = await fetch(`${base}/api/me/2fa/totp/confirm`, { method: 'POST', headers: auth, body: JSON.stringify({ code: await app.code() }) });
  assert.equal(confirm.status, 200);

  const page = await newPage(base);
  await passwordStep(page, ERIN);
  await page.getByRole('heading', { name: 'Two-factor authentication' }).waitFor();
  const limited = page.getByRole('alert').filter({ hasText: /Too many attempts\. Try again in \d+ (seconds?|minutes)\./ });
  for (let i = 0; i < 8 && !(await limited.count()); i++) {
    await page.getByLabel('Authentication code').fill(app.wrong());
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('alert').waitFor();
    await page.waitForFunction(() => {
      const b = [...document.querySelectorAll('button')].find((x) => x.textContent === 'Verify');
      const a = document.querySelector('[role=alert]');
      return b && a && !a.hidden && (!b.disabled || /Too many/.test(a.textContent));
    });
  }
  await limited.waitFor();
  assert.ok(await page.getByRole('button', { name: 'Verify' }).isDisabled(), 'the button waits out the limit');
  await shot(page, 'login-2fa-throttled', 'desktop');
  await page.context().close();
  assert.deepEqual(violations, [], 'Content-Security-Policy violations');
  assert.deepEqual(pageErrors, [], 'uncaught errors in the page');
});

test('passkeys: register, second factor, passwordless, remove', async (t) => {
  // WebAuthn wants a secure context and a domain as relying-party id: http://localhost, with the
  // server's public_url naming the same origin.
  const port = await freePort();
  const origin = `http://localhost:${port}`;
  await makeServer('passkeys', [[CAROL, true]], { SHELFWARDEN_PUBLIC_URL: origin }, port);
  const page = await newPage(origin);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true,
      isUserVerified: true, automaticPresenceSimulation: true,
    },
  });
  const credentials = async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;

  await t.test('a passkey is added from the account page once TOTP is on', async () => {
    await passwordStep(page, CAROL);
    await page.getByRole('button', { name: 'Sign out', exact: true }).waitFor();
    await page.getByRole('link', { name: 'Account' }).click();
    const section = page.getByRole('region', { name: 'Passkeys' });
    await section.getByText('Turn on two-factor authentication above first').waitFor();
    assert.ok(await section.getByLabel('Passkey name').isHidden(), 'no passkey form before TOTP');
    const { section: tfa } = await enrolTotp(page);
    await tfa.getByLabel('I have saved them').check();
    await tfa.getByRole('button', { name: 'Done' }).click();
    await section.getByText('No passkeys yet.').waitFor();
    await section.getByLabel('Passkey name').fill('Laptop');
    await section.getByRole('button', { name: 'Add a passkey' }).click();
    await section.getByRole('cell', { name: 'Laptop', exact: true }).waitFor();
    const creds = await credentials();
    assert.equal(creds.length, 1);
    assert.equal(creds[0].isResidentCredential, true);
    await section.getByRole('cell', { name: 'Never' }).waitFor();
    await section.scrollIntoViewIfNeeded();
    await shot(page, 'account-passkeys', 'desktop');
    await signOut(page);
  });

  await t.test('the passkey as the second step after the password', async () => {
    await passwordStep(page, CAROL);
    await page.getByRole('heading', { name: 'Two-factor authentication' }).waitFor();
    await page.setViewportSize({ width: 390, height: 844 });
    await shot(page, 'login-2fa', 'phone');
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.getByRole('button', { name: 'Use a passkey' }).click();
    await page.getByRole('button', { name: 'Sign out', exact: true }).waitFor();
    await signOut(page);
  });

  await t.test('passwordless sign-in, then removing the passkey', async () => {
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await page.getByRole('button', { name: 'Sign out', exact: true }).waitFor();
    await page.getByRole('link', { name: 'Account' }).click();
    const section = page.getByRole('region', { name: 'Passkeys' });
    await section.getByRole('cell', { name: 'Laptop', exact: true }).waitFor();
    assert.equal(await section.getByRole('cell', { name: 'Never' }).count(), 0, 'last use recorded');
    await section.getByRole('button', { name: 'Remove passkey Laptop' }).click();
    await section.getByText('No passkeys yet.').waitFor();
    await signOut(page);
    // The authenticator still holds it, but the server no longer accepts it.
    assert.equal((await credentials()).length, 1);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await page.getByRole('alert').filter({ hasText: 'That passkey was not accepted.' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Sign out', exact: true }).count(), 0);
  });

  await page.context().close();
  assert.deepEqual(violations, [], 'Content-Security-Policy violations');
  assert.deepEqual(pageErrors, [], 'uncaught errors in the page');
});
