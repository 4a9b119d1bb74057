// The console's entry point: the login (login.js), the push channel
// (server-sent events) that keeps the site's state and events, the header
// and banner, and the views chosen by the URL's fragment (#/, #/cameras,
// #/events, #/camera/NAME).
import { h, since, recordingServers } from './util.js';
import { siteView } from './site.js';
import { camerasView } from './cameras.js';
import { eventsView, followEvents } from './events.js';
import { cameraView } from './camera.js';
import { session, setup, showLogin, showUser, recheck, watchFetches, mayReadEvents } from './login.js';

// store is what the views read: the last state (GET /v1/state's answer),
// the site's N+1 verdict (planner.CheckNPlusOne), the events, and who wants to hear of changes.
export const store = { state: null, nplusone: null, events: [], listeners: new Set() };
const maxEvents = 1000;

function changed(what) {
  for (const fn of store.listeners) fn(what);
}

// running holds what the console runs while shown: the push channel and
// the events' stream, which a logout stops.
let running = null;

function connect() {
  const es = new EventSource('/v1/console/stream');
  running.es = es;
  es.addEventListener('state', e => {
    store.state = JSON.parse(e.data);
    changed('state');
  });
  es.addEventListener('nplusone', e => {
    store.nplusone = JSON.parse(e.data);
    changed('nplusone');
  });
  es.onopen = () => showConnection(true);
  es.onerror = () => {
    showConnection(false);
    recheck(stop);
  };
}

// The store keeps the site's latest events, for the site page (an
// operator's or admin's: a viewer may not read them).
function keepEvents() {
  if (!mayReadEvents()) return;
  followEvents({limit: String(maxEvents)}, batch => {
    store.events.push(...batch);
    if (store.events.length > maxEvents) store.events.splice(0, store.events.length - maxEvents);
    changed('event');
  }, {signal: running.abort.signal});
}

function showConnection(ok) {
  const el = document.getElementById('conn');
  el.className = ok ? 'conn ok' : 'conn lost';
  el.replaceChildren();
  if (ok) {
    el.append('live');
    return;
  }
  // This server is gone: every other one serves the same console.
  el.append('disconnected, retrying');
  const others = (store.state?.servers || []).filter(s => s.name !== store.state.answering && s.kind !== 'virtual');
  if (others.length) el.append(' · open ', ...others.map(s => h('a', {href: `${location.protocol}//${s.address}/`}, s.name, ' ')));
}

function renderHeader() {
  const st = store.state;
  if (!st) return;
  document.getElementById('site-name').textContent = `site ${st.site}`;
  const meta = [];
  meta.push(st.master ? `master ${st.master}` : 'no master');
  meta.push(`revision ${st.revision}`);
  meta.push(`answered by ${st.answering}`);
  document.getElementById('meta').textContent = meta.join(' · ');
  renderBanner(st);
}

// renderBanner raises the alarm while a server is down or a camera is
// recorded nowhere.
function renderBanner(st) {
  const lines = [];
  if (st.message) lines.push(st.message);
  if (st.config_error) lines.push(`configuration: ${st.config_error}`);
  for (const s of st.servers || []) {
    if (s.kind === 'virtual' || s.health === 'alive') continue;
    // since() is a duration: "srv-2 is dead for 3 s", "srv-2 left the site 3 s ago".
    const d = s.since && s.health !== 'unknown' ? since(s.since) : '';
    lines.push(s.health === 'left' ? `${s.name} left the site${d ? ` ${d} ago` : ''}` : `${s.name} is ${s.health}${d ? ` for ${d}` : ''}`);
  }
  const dark = (st.cameras || []).filter(c => recordingServers(c).length === 0);
  if (dark.length) {
    const names = dark.slice(0, 8).map(c => c.name).join(', ') + (dark.length > 8 ? ` and ${dark.length - 8} more` : '');
    lines.push(`${dark.length === 1 ? 'camera' : `${dark.length} cameras`} recorded nowhere: ${names}`);
  }
  const el = document.getElementById('banner');
  el.hidden = lines.length === 0;
  el.replaceChildren(...lines.map(l => h('div', null, l)));
}

let current = null;

function route() {
  const hash = decodeURIComponent(location.hash.replace(/^#/, '')) || '/';
  current?.destroy?.();
  let name = 'site';
  const main = document.getElementById('main');
  if (hash.startsWith('/camera/')) {
    current = cameraView(store, hash.slice('/camera/'.length));
    name = 'cameras';
  } else if (hash.startsWith('/cameras')) {
    current = camerasView(store);
    name = 'cameras';
  } else if (hash.startsWith('/events')) {
    current = eventsView(store);
    name = 'events';
  } else {
    current = siteView(store);
  }
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.view === name);
  main.replaceChildren(current.el);
  if (store.state) current.update('state');
}

store.listeners.add(what => {
  if (what === 'state') renderHeader();
  current?.update(what);
});
// run starts the console: the view, the push channel and the events.
function run(user) {
  if (user) showUser(user);
  running = {abort: new AbortController()};
  route();
  connect();
  keepEvents();
}

// stop ends what run started (a logout, or the session ended).
function stop() {
  if (!running) return;
  running.es?.close();
  running.abort.abort();
  running = null;
  current?.destroy?.();
  current = null;
  document.getElementById('main').replaceChildren();
  store.state = null;
  store.events = [];
}

// start shows the login form when the page has no session (every read
// needs one, or a token), else the console.
async function start() {
  let s = {login: false, user: null};
  try {
    s = await session();
  } catch {
    // The agent is away: the form shows; a login says so.
  }
  setup(run, stop, s.login);
  watchFetches(stop);
  window.addEventListener('hashchange', () => { if (running) route(); });
  if (!s.user) showLogin();
  else run(s.user);
}

start();
