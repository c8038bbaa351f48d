// Drives the real server binary in real headless Chromium: first-run setup, sign-in, browsing and
// search, playback with progress saved on the server, resume after reload, admin creating a user
// who then signs in, the audit log showing it. Any Content-Security-Policy violation or uncaught
// page error fails the run. Screenshots of every main page go to docs/screenshots/.
//
// Run: SHELFWARDEN_BIN=target/debug/shelfwarden node --test tests/browser/

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BIN, SHOTS, cleanEnv, startServer, launchBrowser, watch as watchPage, shot } from './harness.mjs';

const ADMIN = ['admin', 'correct horse battery staple 42'];
const READER = ['reader', 'velvet orbit marmalade tunnel 7'];
const BOOK = 'Hidden Mountain 10'; // three files, 9 s: playback crosses a file boundary

let tmp;
let server;
let base;
let browser;
const violations = [];
const pageErrors = [];

async function apiLogin([username, password]) {
  const r = await fetch(`${base}/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'x-return-tokens': 'true' },
    body: JSON.stringify({ username, password }),
  });
  assert.equal(r.status, 200);
  return (await r.json()).user.accessToken;
}

async function newPage(viewport) {
  const context = await browser.newContext({ viewport, baseURL: base });
  const page = await context.newPage();
  watch(page, violations);
  return page;
}

const watch = (page, sink) => watchPage(page, sink, pageErrors);

async function signIn(page, [username, password]) {
  await page.goto('/#/login');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

function parseClock(s) {
  return s.split(':').map(Number).reduce((acc, n) => acc * 60 + n, 0);
}

before(async () => {
  tmp = mkdtempSync(path.join(tmpdir(), 'sw-browser-'));
  const data = path.join(tmp, 'data');
  const library = path.join(tmp, 'library');
  mkdirSync(data);
  execFileSync(BIN, ['--data', data, 'generate-library', '--books', '12', '--out', library], { stdio: 'ignore', env: cleanEnv() });
  ({ child: server, base } = await startServer(data, library));
  mkdirSync(SHOTS, { recursive: true });
  browser = await launchBrowser();
  test.data = data;
});

after(async () => {
  if (browser) await browser.close();
  if (server) server.kill('SIGTERM');
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('the CSP watcher itself catches a violation', async () => {
  const seen = [];
  const context = await browser.newContext({ baseURL: base });
  const page = await context.newPage();
  watch(page, seen);
  await page.goto('/#/login');
  await page.evaluate(() => document.body.setAttribute('style', 'color: red'));
  await page.waitForTimeout(300);
  await context.close();
  assert.ok(seen.length > 0, 'an inline style attribute should be reported');
});

test('the web app end to end', async (t) => {
  const page = await newPage({ width: 1280, height: 800 });
  const data = path.join(tmp, 'data');

  await t.test('first-run setup with the console token', async () => {
    await page.goto('/');
    await page.getByRole('heading', { name: 'Set up Shelfwarden' }).waitFor();
    await shot(page, 'setup', 'desktop');
    const token = readFileSync(path.join(data, 'setup-token'), 'utf8').trim();
    await page.getByLabel('Setup token').fill(token);
    await page.getByLabel('Administrator username').fill(ADMIN[0]);
    await page.getByLabel('Password').fill(ADMIN[1]);
    await page.getByRole('button', { name: 'Create administrator' }).click();
    await page.getByRole('heading', { name: 'Home' }).waitFor();
    // The generated books last seconds, and by default a book counts as finished within 10 s
    // of its end; lower that so a few seconds of listening stay "in progress".
    const adminToken = await apiLogin(ADMIN);
    const auth = { Authorization: `Bearer ${adminToken}`, 'Content-Type': 'application/json' };
    const { libraries } = await (await fetch(`${base}/api/libraries`, { headers: auth })).json();
    const r = await fetch(`${base}/api/libraries/${libraries[0].id}`, {
      method: 'PATCH', headers: auth, body: JSON.stringify({ settings: { markAsFinishedTimeRemaining: 1 } }),
    });
    assert.equal(r.status, 200);
  });

  await t.test('sign out, wrong password is refused, sign in', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in', exact: true }).waitFor();
    await page.getByLabel('Username').fill(ADMIN[0]);
    await page.getByLabel('Password').fill('not the password at all');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('alert').filter({ hasText: 'Wrong username or password.' }).waitFor();
    await shot(page, 'login', 'desktop');
    await signIn(page, ADMIN);
    await page.getByRole('heading', { name: 'Recently Added' }).waitFor();
    await shot(page, 'home', 'desktop');
  });

  await t.test('browse and search the library', async () => {
    await page.getByRole('link', { name: 'Library', exact: true }).click();
    await page.getByText('12 books').waitFor();
    assert.equal(await page.locator('.grid .book').count(), 12);
    await page.getByLabel('Sort by').selectOption('media.duration');
    await page.getByLabel('Order').selectOption('1');
    await page.waitForFunction(() => location.hash.includes('desc=1'));
    await page.locator('.grid .book').first().waitFor();
    await shot(page, 'library', 'desktop');
    await page.getByLabel('Search').fill('Mountain');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText(/results? for “Mountain”/).waitFor();
    await page.getByRole('link', { name: new RegExp(BOOK) }).waitFor();
    // A filter narrows the list (series "Voyage Saga 9" holds the book).
    await page.getByLabel('Search').fill('');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText('12 books').waitFor();
    await page.getByLabel('Filter').selectOption({ label: 'Voyage Saga 9' });
    await page.getByText('1 book', { exact: true }).waitFor();
  });

  let itemId;
  await t.test('play a book; the server saves the progress', async () => {
    await page.getByRole('link', { name: new RegExp(BOOK) }).click();
    await page.getByRole('heading', { name: BOOK }).waitFor();
    itemId = decodeURIComponent(page.url().split('#/item/')[1]);
    await shot(page, 'book', 'desktop');
    await page.getByRole('button', { name: '▶ Play' }).click();
    await page.getByRole('button', { name: 'Pause' }).waitFor();
    await page.waitForFunction(() => {
      const t = document.querySelector('.player .time');
      return t && /^0:0[4-9]/.test(t.textContent);
    }, null, { timeout: 15000 });
    await shot(page, 'player', 'desktop');
    await page.getByRole('button', { name: 'Pause' }).click();
    const token = await apiLogin(ADMIN);
    let saved = 0;
    for (let i = 0; i < 40 && saved < 3; i++) {
      const r = await fetch(`${base}/api/me/progress/${itemId}`, { headers: { Authorization: `Bearer ${token}` } });
      if (r.status === 200) saved = (await r.json()).currentTime;
      if (saved < 3) await new Promise((res) => setTimeout(res, 250));
    }
    assert.ok(saved >= 3, `saved progress ${saved} should be at least 3 s`);
  });

  await t.test('reload and resume where it stopped', async () => {
    await page.reload();
    await page.getByRole('heading', { name: BOOK }).waitFor();
    const resume = page.getByRole('button', { name: /Resume from/ });
    await resume.waitFor();
    const at = parseClock((await resume.textContent()).match(/(\d+:\d+)/)[1]);
    assert.ok(at >= 3, `resume point ${at}`);
    await resume.click();
    await page.getByRole('button', { name: 'Pause' }).waitFor();
    const shown = parseClock((await page.locator('.player .time').textContent()).split(' / ')[0]);
    assert.ok(shown >= at, `player starts at ${shown}, expected ≥ ${at}`);
    // Keyboard: "k" toggles playback when focus is not in a control.
    await page.locator('#main').focus();
    await page.keyboard.press('k');
    await page.getByRole('button', { name: 'Play', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Stop and close the player' }).click();
    await page.locator('#player').waitFor({ state: 'hidden' });
  });

  await t.test('home shows the book under continue listening', async () => {
    await page.getByRole('link', { name: 'Home' }).click();
    const shelf = page.getByRole('region', { name: /Continue Listening/i });
    await shelf.getByRole('link', { name: new RegExp(BOOK) }).waitFor();
  });

  await t.test('playlists from the book page, collections on the lists page', async () => {
    const token = await apiLogin(ADMIN);
    const libs = await (await fetch(`${base}/api/libraries`, { headers: { Authorization: `Bearer ${token}` } })).json();
    const r = await fetch(`${base}/api/collections`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'Road trip', libraryId: libs.libraries[0].id, books: [itemId] }),
    });
    assert.equal(r.status, 200);

    await page.goto(`/#/item/${encodeURIComponent(itemId)}`);
    await page.getByRole('heading', { name: BOOK }).waitFor();
    assert.equal(await page.getByLabel('Add to playlist').inputValue(), '');
    await page.getByLabel('Name', { exact: true }).fill('Commute');
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await page.getByRole('link', { name: 'Commute' }).click();
    await page.getByRole('heading', { name: 'Commute' }).waitFor();
    await page.getByRole('link', { name: new RegExp(BOOK) }).waitFor();

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Lists' }).click();
    await page.getByRole('region', { name: 'My playlists' }).getByRole('link', { name: /Commute/ }).waitFor();
    await page.getByRole('region', { name: 'Collections' }).getByRole('link', { name: /Road trip/ }).waitFor();
    await shot(page, 'lists', 'desktop');
    await page.getByRole('link', { name: /Road trip/ }).click();
    await page.getByRole('heading', { name: 'Road trip' }).waitFor();
    await page.getByRole('link', { name: new RegExp(BOOK) }).waitFor();

    // Emptying a playlist deletes it, as in ABS.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Lists' }).click();
    await page.getByRole('link', { name: /Commute/ }).click();
    await page.getByRole('button', { name: new RegExp(`Remove ${BOOK} from the playlist`) }).click();
    await page.getByText('No playlists yet.', { exact: false }).waitFor();
  });

  await t.test('listening statistics, history, hiding from continue listening', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Listening' }).click();
    await page.getByRole('heading', { name: 'Listening', level: 1 }).waitFor();
    const history = page.getByRole('region', { name: 'History' });
    await history.getByRole('link', { name: BOOK }).first().waitFor();
    const allTime = page.locator('.stat', { hasText: 'All time' }).locator('.stat-value');
    assert.match(await allTime.textContent(), /^[1-9]\d* s$/, 'the seconds played count');
    assert.equal(await page.getByRole('region', { name: 'Last 7 days' }).locator('meter').count(), 7);
    await page.getByRole('region', { name: 'Most listened' }).getByRole('link', { name: BOOK }).waitFor();
    await shot(page, 'listening', 'desktop');

    // Admins see everyone's sessions with the user's name.
    await page.getByRole('link', { name: 'Admin' }).click();
    await page.getByRole('navigation', { name: 'Administration' }).getByRole('link', { name: 'Listening' }).click();
    const row = page.locator('table tbody tr', { hasText: BOOK }).first();
    await row.waitFor();
    assert.equal(await row.locator('td[data-label="User"]').textContent(), ADMIN[0]);

    // Hiding a book from the shelf keeps its progress.
    await page.getByRole('link', { name: 'Home' }).click();
    const shelf = page.getByRole('region', { name: /Continue Listening/i });
    await shelf.getByRole('button', { name: `Hide ${BOOK} from Continue listening` }).click();
    await shelf.waitFor({ state: 'detached' });
    const token = await apiLogin(ADMIN);
    const progress = await (await fetch(`${base}/api/me/progress/${itemId}`, { headers: { Authorization: `Bearer ${token}` } })).json();
    assert.equal(progress.hideFromContinueListening, true);
    assert.ok(progress.currentTime >= 3);

    // Deleting a session from one's own history, after a confirmation.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Listening' }).click();
    const rows = page.getByRole('region', { name: 'History' }).locator('tbody tr');
    await rows.first().waitFor();
    const before = await rows.count();
    page.once('dialog', (d) => d.accept());
    await rows.first().getByRole('button', { name: /^Delete the session of/ }).click();
    await page.getByText('Session deleted.').waitFor();
    await page.waitForFunction((n) => document.querySelectorAll('section[aria-label="History"] tbody tr').length === n - 1
      || (n === 1 && document.querySelector('section[aria-label="History"] p.muted')), before);
  });

  await t.test('account page with the strength meter and sessions', async () => {
    await page.getByRole('link', { name: 'Account' }).click();
    await page.getByRole('heading', { name: 'Sessions and devices' }).waitFor();
    await page.getByLabel('New password', { exact: true }).fill('password123');
    await page.locator('.reasons li').first().waitFor();
    await shot(page, 'account', 'desktop');
  });

  await t.test('admin creates a user who then signs in; the audit log shows it', async () => {
    await page.getByRole('link', { name: 'Admin' }).click();
    await page.getByRole('heading', { name: 'Create a user' }).waitFor();
    await page.getByLabel('Username').fill(READER[0]);
    await page.getByLabel('Password').fill(READER[1]);
    await page.getByRole('button', { name: 'Create user' }).click();
    await page.getByRole('cell', { name: READER[0], exact: true }).waitFor();
    await shot(page, 'admin-users', 'desktop');
    // Permissions: take "Download" away from the new user.
    await page.getByRole('button', { name: `Edit ${READER[0]}` }).click();
    await page.getByRole('heading', { name: `Edit ${READER[0]}` }).waitFor();
    await page.getByLabel('Download').uncheck();
    // Tags: a deny list of one tag (the books tagged "sample" are hidden from this user).
    await page.getByLabel('Tags', { exact: true }).fill('sample, kids');
    await page.getByLabel('Hide books with these tags instead').check();
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('heading', { name: `Edit ${READER[0]}` }).waitFor({ state: 'detached' });
    // Reopened, the editor shows what the server stored.
    await page.getByRole('button', { name: `Edit ${READER[0]}` }).click();
    assert.equal(await page.getByLabel('Tags', { exact: true }).inputValue(), 'sample, kids');
    assert.equal(await page.getByLabel('Hide books with these tags instead').isChecked(), true);
    assert.equal(await page.getByLabel('Download').isChecked(), false);
    await page.getByRole('button', { name: 'Cancel' }).click();

    await page.getByRole('link', { name: 'Sessions' }).click();
    await page.getByText(/signed-in sessions?/).waitFor();
    await shot(page, 'admin-sessions', 'desktop');

    // Views load asynchronously: wait for the new one before touching its fields.
    await page.getByRole('link', { name: 'API keys' }).click();
    await page.getByRole('heading', { name: 'Create an API key' }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill('backup script');
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.getByText('Copy the key now').waitFor();
    await shot(page, 'admin-keys', 'desktop');

    await page.getByRole('link', { name: 'Libraries' }).click();
    await page.getByRole('heading', { name: 'Add a library' }).waitFor();
    // A folder the server refuses (it does not exist) gives a readable error, not a crash.
    await page.getByLabel('Name', { exact: true }).fill('Nowhere');
    await page.getByLabel('Folder on the server').fill(path.join(tmp, 'no-such-folder'));
    await page.getByRole('button', { name: 'Add and scan' }).click();
    await page.getByRole('alert').waitFor();
    await page.getByRole('button', { name: 'Scan now' }).click();
    await page.getByRole('cell', { name: 'library-scan' }).first().waitFor();
    await shot(page, 'admin-libraries', 'desktop');

    await page.getByRole('link', { name: 'Backups' }).click();
    await page.getByText('No backup has been made yet.').waitFor();
    // No backup key is configured here: the server's reason is shown.
    await page.getByRole('button', { name: 'Back up now' }).click();
    await page.getByRole('alert').filter({ hasText: /backup key/ }).waitFor();
    await shot(page, 'admin-backups', 'desktop');

    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('table', { name: 'Effective settings' }).waitFor();
    await page.getByRole('rowheader', { name: 'require_2fa' }).waitFor();
    await shot(page, 'admin-settings', 'desktop');

    await page.getByRole('link', { name: 'Security' }).click();
    await page.getByText(/\d+ high · \d+ medium/).waitFor();
    await shot(page, 'admin-security', 'desktop');

    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByRole('button', { name: 'Filter' }).waitFor();
    await page.getByLabel('Action').selectOption('user.create');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.getByText('1 event', { exact: true }).waitFor();
    await page.getByRole('cell', { name: 'user.create' }).waitFor();
    await shot(page, 'admin-audit', 'desktop');

    await page.getByRole('button', { name: 'Sign out' }).click();
    await signIn(page, READER);
    await page.getByRole('heading', { name: 'Home' }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'Admin' }).count(), 0);
    const readerToken = await apiLogin(READER);
    const me = await (await fetch(`${base}/api/me`, { headers: { Authorization: `Bearer ${readerToken}` } })).json();
    assert.equal(me.permissions.download, false, 'the permission change was saved');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in', exact: true }).waitFor();
  });

  await t.test('phone-width screenshots', async () => {
    const phone = await newPage({ width: 390, height: 844 });
    await phone.goto('/#/login');
    await shot(phone, 'login', 'phone');
    await signIn(phone, ADMIN);
    await phone.getByRole('heading', { name: 'Recently Added' }).waitFor();
    await shot(phone, 'home', 'phone');
    await phone.goto('/#/library');
    await phone.getByRole('link', { name: 'Library', exact: true }).click();
    await phone.getByText('12 books').waitFor();
    await shot(phone, 'library', 'phone');
    await phone.goto(`/#/item/${encodeURIComponent(itemId)}`);
    await phone.getByRole('heading', { name: BOOK }).waitFor();
    await phone.getByRole('button', { name: /Resume from|Play/ }).click();
    await phone.getByRole('button', { name: 'Pause' }).waitFor();
    await phone.getByRole('button', { name: 'Pause' }).click();
    await shot(phone, 'book', 'phone');
    await phone.getByRole('button', { name: 'Stop and close the player' }).click();
    await phone.goto('/#/account');
    await phone.getByRole('heading', { name: 'Sessions and devices' }).waitFor();
    await shot(phone, 'account', 'phone');
    for (const s of ['users', 'sessions', 'keys', 'audit', 'libraries', 'backups', 'security', 'settings']) {
      await phone.goto(`/#/admin/${s}`);
      await phone.getByRole('heading', { name: 'Administration' }).waitFor();
      await phone.locator('main table, main .muted, main .findings').first().waitFor();
      await shot(phone, `admin-${s}`, 'phone');
    }
    await phone.context().close();
  });

  await page.context().close();
  assert.deepEqual(violations, [], 'Content-Security-Policy violations');
  assert.deepEqual(pageErrors, [], 'uncaught errors in the page');
});

test('throttled sign-in shows the wait from Retry-After', async () => {
  // A second server with a tiny per-address limit, and a user made with the CLI.
  const dir = mkdtempSync(path.join(tmpdir(), 'sw-throttle-'));
  const data = path.join(dir, 'data');
  mkdirSync(data);
  execFileSync(BIN, ['--data', data, 'user', 'add', ADMIN[0], '--admin', '--password-stdin'], { input: `${ADMIN[1]}\n`, stdio: ['pipe', 'ignore', 'ignore'], env: cleanEnv() });
  mkdirSync(path.join(dir, 'library'));
  const s = await startServer(data, path.join(dir, 'library'), { SHELFWARDEN_RATE_LIMIT_AUTH_MAX: '2' });
  const context = await browser.newContext({ baseURL: s.base });
  const page = await context.newPage();
  watch(page, violations);
  try {
    await page.goto('/#/login');
    for (let i = 0; i < 4; i++) {
      await page.getByLabel('Username').fill(ADMIN[0]);
      await page.getByLabel('Password').fill(`wrong password number ${i}`);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.getByRole('alert').waitFor();
      if (await page.getByRole('alert').filter({ hasText: /Too many attempts/ }).count()) break;
      await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor({ state: 'visible' });
    }
    await page.getByRole('alert').filter({ hasText: /Too many attempts\. Try again in \d+ (seconds?|minutes)\./ }).waitFor();
    assert.ok(await page.getByRole('button', { name: 'Sign in', exact: true }).isDisabled(), 'the button waits out the limit');
    await shot(page, 'login-throttled', 'desktop');
  } finally {
    await context.close();
    s.child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
  assert.deepEqual(violations, []);
});
