// The persistent player: one <audio> element that outlives view changes, so listening continues
// while the user browses. A book may be several files; the player maps the book's timeline onto
// the file holding each moment (audioTracks[].startOffset).

import { api, withToken, coverUrl, deviceId } from './api.js';
import { h, clear, fmtTime, toast, coverImg } from './dom.js';

const SYNC_EVERY_MS = 10000;
const audio = new Audio();
audio.preload = 'auto';

let session = null; // the server's playback session
let trackIndex = 0;
let lastSyncAt = 0; // book time of the last sync, to report time listened
let listenedSinceSync = 0;
let lastTick = null;
let syncTimer = null;
let sleepTimer = null;
let sleepAtChapterEnd = false;
let pendingSeek = null;
const els = {};
const changeListeners = new Set();

export const onChange = (fn) => changeListeners.add(fn);
const notify = () => changeListeners.forEach((fn) => fn(state()));

export function state() {
  return session ? { itemId: session.libraryItemId, time: currentTime(), playing: !audio.paused } : null;
}

function currentTime() {
  if (!session) return 0;
  const t = session.audioTracks[trackIndex];
  return (t ? t.startOffset : 0) + (audio.currentTime || 0);
}

function trackAt(time) {
  const tracks = session.audioTracks;
  for (let i = tracks.length - 1; i >= 0; i--) {
    if (time >= tracks[i].startOffset) return i;
  }
  return 0;
}

function loadTrack(i, offset, play) {
  trackIndex = i;
  const t = session.audioTracks[i];
  pendingSeek = { offset, play };
  audio.src = withToken(t.contentUrl);
  audio.playbackRate = Number(els.speed ? els.speed.value : 1) || 1;
  audio.load();
}

audio.addEventListener('loadedmetadata', () => {
  if (!pendingSeek) return;
  const { offset, play } = pendingSeek;
  pendingSeek = null;
  if (offset > 0) audio.currentTime = offset;
  if (play) audio.play().catch((e) => toast(`Could not play: ${e.message}`, 'error'));
});

export function seek(time, play = !audio.paused) {
  if (!session) return;
  time = Math.max(0, Math.min(time, session.duration - 0.05));
  const i = trackAt(time);
  const offset = time - session.audioTracks[i].startOffset;
  if (i !== trackIndex || !audio.src) loadTrack(i, offset, play);
  else {
    audio.currentTime = offset;
    if (play) audio.play().catch(() => {});
  }
  render();
}

function chapterAt(time) {
  const chapters = session ? session.chapters || [] : [];
  return chapters.findIndex((c) => time >= c.start && time < c.end);
}

// Time listened is counted from the clock while audio actually plays, not from position changes,
// so seeking does not inflate listening statistics.
audio.addEventListener('timeupdate', () => {
  const now = performance.now();
  if (!audio.paused && lastTick !== null) listenedSinceSync += Math.min((now - lastTick) / 1000, 2);
  lastTick = audio.paused ? null : now;
  if (sleepAtChapterEnd && session) {
    const c = session.chapters[chapterAt(currentTime())];
    if (c && currentTime() >= c.end - 0.3) {
      sleepAtChapterEnd = false;
      audio.pause();
    }
  }
  updateProgress();
});

audio.addEventListener('ended', () => {
  if (session && trackIndex + 1 < session.audioTracks.length) {
    loadTrack(trackIndex + 1, 0, true);
  } else {
    sync(true).then(render);
  }
});
audio.addEventListener('play', () => { lastTick = performance.now(); startSync(); render(); notify(); });
audio.addEventListener('pause', () => { lastTick = null; sync(); render(); notify(); });
audio.addEventListener('error', () => {
  // The media URL carries the access token, which expires; a fresh token usually cures it.
  if (session) toast('Playback failed; press play to retry.', 'error');
});

function startSync() {
  clearInterval(syncTimer);
  syncTimer = setInterval(() => { if (!audio.paused) sync(); }, SYNC_EVERY_MS);
}

export async function sync(force = false, keepalive = false) {
  if (!session) return;
  const t = currentTime();
  if (!force && listenedSinceSync < 0.2 && Math.abs(t - lastSyncAt) < 0.5) return;
  const body = { currentTime: t, timeListened: Math.round(listenedSinceSync * 1000) / 1000, duration: session.duration };
  listenedSinceSync = 0;
  lastSyncAt = t;
  try {
    await api(`/api/session/${encodeURIComponent(session.id)}/sync`, { method: 'POST', body, keepalive });
  } catch (e) {
    toast(`Progress not saved: ${e.message}`, 'error');
  }
}

/// Opens a playback session and starts at the server's position (which another device may have
/// moved), or at `startAt` when the user picked a chapter or bookmark.
export async function play(itemId, startAt = null) {
  if (session && session.libraryItemId === itemId) {
    if (startAt !== null) seek(startAt, true);
    else audio.play().catch(() => {});
    return;
  }
  await stop();
  const s = await api(`/api/items/${encodeURIComponent(itemId)}/play`, {
    method: 'POST',
    body: {
      deviceInfo: { clientName: 'Shelfwarden Web', clientVersion: '1', deviceId: deviceId() },
      forceDirectPlay: true,
      mediaPlayer: 'html5',
      supportedMimeTypes: ['audio/mpeg', 'audio/mp4', 'audio/ogg', 'audio/flac', 'audio/aac', 'audio/webm'],
    },
  });
  if (!s.audioTracks || !s.audioTracks.length) throw new Error('This book has no playable audio.');
  session = s;
  listenedSinceSync = 0;
  const start = startAt !== null ? startAt : (s.currentTime || 0);
  lastSyncAt = start;
  localStorage.setItem('sw-last-item', itemId);
  build();
  const i = trackAt(start);
  loadTrack(i, start - s.audioTracks[i].startOffset, true);
  mediaSession();
  notify();
}

export async function stop() {
  if (!session) return;
  audio.pause();
  const s = session;
  await sync(true);
  clearInterval(syncTimer);
  clearTimeout(sleepTimer);
  await api(`/api/session/${encodeURIComponent(s.id)}/close`, {
    method: 'POST', body: { currentTime: currentTime(), timeListened: 0, duration: s.duration },
  }).catch(() => {});
  session = null;
  audio.removeAttribute('src');
  audio.load();
  const root = document.getElementById('player');
  if (root) { clear(root); root.hidden = true; }
  document.body.classList.remove('has-player');
  notify();
}

export const toggle = () => { if (session) { if (audio.paused) audio.play().catch(() => {}); else audio.pause(); } };
export const skip = (delta) => seek(currentTime() + delta);
export const currentItemTime = () => currentTime();

function chapterJump(dir) {
  if (!session || !session.chapters.length) return skip(dir * 30);
  const i = chapterAt(currentTime());
  const c = session.chapters[i];
  if (dir < 0 && c && currentTime() - c.start > 3) return seek(c.start);
  const next = session.chapters[Math.max(0, Math.min(session.chapters.length - 1, i + dir))];
  if (next) seek(next.start);
}

function setSleep(value) {
  clearTimeout(sleepTimer);
  sleepAtChapterEnd = value === 'chapter';
  const mins = Number(value);
  if (mins > 0) {
    sleepTimer = setTimeout(() => { audio.pause(); toast('Sleep timer: paused.'); }, mins * 60000);
    toast(`Sleep timer: ${mins} minutes.`);
  }
}

function build() {
  const root = document.getElementById('player');
  clear(root);
  root.hidden = false;
  document.body.classList.add('has-player');
  const title = session.displayTitle || 'Untitled';
  els.toggle = h('button', { class: 'play', type: 'button', 'aria-label': 'Play', onclick: toggle }, '▶');
  els.time = h('span', { class: 'time', 'aria-live': 'off' }, '0:00');
  els.seek = h('input', {
    type: 'range', min: 0, max: session.duration, step: 1, value: 0, 'aria-label': 'Position',
    oninput: (e) => seek(Number(e.target.value)),
  });
  els.chapter = h('select', { 'aria-label': 'Chapter', onchange: (e) => seek(Number(e.target.value)) },
    session.chapters.map((c) => h('option', { value: c.start }, c.title)));
  els.speed = h('select', { 'aria-label': 'Speed', onchange: (e) => { audio.playbackRate = Number(e.target.value); } },
    [0.75, 1, 1.25, 1.5, 1.75, 2].map((v) => h('option', { value: v, selected: v === 1 }, `${v}×`)));
  const sleep = h('select', { 'aria-label': 'Sleep timer', onchange: (e) => setSleep(e.target.value) },
    h('option', { value: '' }, 'Sleep: off'),
    [5, 15, 30, 45, 60].map((m) => h('option', { value: m }, `${m} min`)),
    h('option', { value: 'chapter' }, 'End of chapter'));
  root.append(
    coverImg(session.libraryItemId, session.displayTitle, !!session.coverPath, 'pcover'),
    h('div', { class: 'pinfo' },
      h('a', { class: 'ptitle', href: `#/item/${encodeURIComponent(session.libraryItemId)}`, text: title }),
      h('span', { class: 'pauthor', text: session.displayAuthor || '' })),
    h('div', { class: 'pcontrols' },
      h('button', { type: 'button', 'aria-label': 'Previous chapter', onclick: () => chapterJump(-1) }, '«'),
      h('button', { type: 'button', 'aria-label': 'Back 30 seconds', onclick: () => skip(-30) }, '−30'),
      els.toggle,
      h('button', { type: 'button', 'aria-label': 'Forward 30 seconds', onclick: () => skip(30) }, '+30'),
      h('button', { type: 'button', 'aria-label': 'Next chapter', onclick: () => chapterJump(1) }, '»')),
    h('div', { class: 'pseek' }, els.seek, els.time),
    h('div', { class: 'pextra' },
      session.chapters.length ? els.chapter : null, els.speed, sleep,
      h('button', { type: 'button', class: 'stop', 'aria-label': 'Stop and close the player', onclick: () => stop() }, '✕')),
  );
  render();
}

function updateProgress() {
  if (!session || !els.seek) return;
  const t = currentTime();
  if (document.activeElement !== els.seek) els.seek.value = t;
  els.time.textContent = `${fmtTime(t)} / ${fmtTime(session.duration)}`;
  const i = chapterAt(t);
  if (i >= 0 && els.chapter.selectedIndex !== i) els.chapter.selectedIndex = i;
  if ('mediaSession' in navigator && navigator.mediaSession.setPositionState && session.duration > 0) {
    try {
      navigator.mediaSession.setPositionState({ duration: session.duration, position: Math.min(t, session.duration), playbackRate: audio.playbackRate });
    } catch { /* some browsers refuse while metadata loads */ }
  }
}

function render() {
  if (!session || !els.toggle) return;
  els.toggle.textContent = audio.paused ? '▶' : '⏸';
  els.toggle.setAttribute('aria-label', audio.paused ? 'Play' : 'Pause');
  updateProgress();
}

function mediaSession() {
  if (!('mediaSession' in navigator)) return;
  const ms = navigator.mediaSession;
  ms.metadata = new MediaMetadata({
    title: session.displayTitle || '',
    artist: session.displayAuthor || '',
    artwork: [{ src: coverUrl(session.libraryItemId) }],
  });
  const on = (action, fn) => { try { ms.setActionHandler(action, fn); } catch { /* unsupported action */ } };
  on('play', () => audio.play());
  on('pause', () => audio.pause());
  on('seekbackward', (d) => skip(-(d.seekOffset || 30)));
  on('seekforward', (d) => skip(d.seekOffset || 30));
  on('previoustrack', () => chapterJump(-1));
  on('nexttrack', () => chapterJump(1));
  on('seekto', (d) => seek(d.seekTime));
  on('stop', () => stop());
}

// Keyboard: space or k toggles, j/l and the arrow keys skip 30 s, shift+arrows jump chapters.
// Ignored while typing in a field.
document.addEventListener('keydown', (e) => {
  if (!session || e.ctrlKey || e.metaKey || e.altKey) return;
  const t = e.target;
  if (t && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT', 'BUTTON'].includes(t.tagName))) return;
  const k = e.key;
  if (k === ' ' || k === 'k') toggle();
  else if ((k === 'ArrowLeft' && e.shiftKey)) chapterJump(-1);
  else if ((k === 'ArrowRight' && e.shiftKey)) chapterJump(1);
  else if (k === 'ArrowLeft' || k === 'j') skip(-30);
  else if (k === 'ArrowRight' || k === 'l') skip(30);
  else return;
  e.preventDefault();
});

// Save the position when the tab goes away; keepalive lets the request outlive the page.
addEventListener('pagehide', () => { if (session && !audio.paused) sync(true, true); });

export const _audio = audio; // for tests and the book page
