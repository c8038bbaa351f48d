// Shared by the browser test files: start the real binary, launch Chromium, watch pages for CSP
// violations and uncaught errors, take screenshots.

import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repo = path.resolve(here, '..', '..');
export const BIN = process.env.SHELFWARDEN_BIN || path.join(repo, 'target', 'debug', 'shelfwarden');
export const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
export const SHOTS = path.join(repo, 'docs', 'screenshots');

/// The binary refuses unknown SHELFWARDEN_* variables (SHELFWARDEN_BIN is ours, not its).
export const cleanEnv = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SHELFWARDEN_')));

/// Starts `shelfwarden serve`; resolves once it prints its address.
export function startServer(data, library, extraEnv = {}, port = 0) {
  return new Promise((resolve, reject) => {
    const env = { ...cleanEnv(), ...extraEnv };
    const child = spawn(BIN, ['serve', '--port', String(port), '--allow-root', '--data', data, '--library', library],
      { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    let log = '';
    // The server's log only matters when it fails to start; keep the test output readable.
    child.stderr.on('data', (chunk) => { log = (log + chunk).slice(-20000); });
    const timer = setTimeout(() => reject(new Error('server did not start')), 30000);
    child.stdout.on('data', (chunk) => {
      buf += chunk;
      const m = buf.match(/Shelfwarden listening on (http:\/\/\S+)/);
      if (m) { clearTimeout(timer); resolve({ child, base: m[1] }); }
    });
    child.on('exit', (code) => reject(new Error(`server exited (${code}):\n${log}`)));
  });
}

/// A port that was free a moment ago (for a server whose public URL must name its port).
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--autoplay-policy=no-user-gesture-required'],
    // launch() already gives Chromium a fresh temporary --user-data-dir and refuses one passed in.
  });
}

/// Records CSP violations from both the console and the DOM event, and uncaught errors.
export function watch(page, sink, errors) {
  page.on('console', (msg) => {
    const text = msg.text();
    if (/Content[- ]Security[- ]Policy|CSP-VIOLATION/i.test(text)) sink.push(text);
  });
  page.on('pageerror', (err) => errors.push(String(err)));
  // Init scripts are injected by the DevTools protocol, not by the page, so the CSP allows them.
  page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP-VIOLATION ${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
    });
  });
}

export async function shot(page, name, kind) {
  // A toast left over from the previous step would cover the header; screenshots show the page.
  await page.evaluate(() => { const t = document.getElementById('toast'); if (t) t.className = 'toast'; });
  await page.waitForTimeout(300);
  await page.screenshot({ path: path.join(SHOTS, `${name}-${kind}.png`) });
}
