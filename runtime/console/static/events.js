// The events page: the site's events as they happen, newest first. Its
// filters (kind, server, camera, since) are the query that the server
// answers (GET /v1/events), over every server's history, not a filter of
// what the page already holds.
import { h, clock } from './util.js';
import { mayReadEvents, eventsRefused } from './login.js';

// eventList renders events as a table.
export function eventList(events) {
  if (!events.length) return h('p', {class: 'empty'}, 'No events yet.');
  return h('table', {class: 'events'},
    h('tbody', null, events.map(e => h('tr', {class: `sev-${e.severity}`},
      h('td', {class: 'time', title: e.time}, clock(e.time)),
      h('td', null, e.kind),
      h('td', null, e.server || ''),
      h('td', null, e.camera ? h('a', {href: `#/camera/${encodeURIComponent(e.camera)}`}, e.camera) : ''),
      h('td', null, e.message)))));
}

// followEvents reads the site's events that match query (GET /v1/events
// with follow: every server's history, then what happens) as a stream of
// JSON lines and hands each batch to onEvents. When the stream breaks it
// follows on from the last event, until signal aborts. A query the server
// refuses (400, e.g. a bad kind pattern) goes to onError and ends it;
// onOpen hears that the server answered.
export async function followEvents(query, onEvents, {signal, onError, onOpen} = {}) {
  let since = query.since || '24h';
  let lastTime = 0;
  const atLast = new Set(); // events at lastTime, which a reconnection repeats
  const key = ev => `${ev.time} ${ev.server} ${ev.kind} ${ev.message}`;
  while (!signal?.aborted) {
    try {
      const params = new URLSearchParams({...query, since, follow: '1'});
      const resp = await fetch(`/v1/events?${params}`, {signal});
      if (resp.status === 400) {
        onError?.((await resp.json()).error);
        return;
      }
      if (!resp.ok) throw new Error(resp.statusText);
      onOpen?.();
      const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
      let rest = '';
      for (;;) {
        const {value, done} = await reader.read();
        if (done) break;
        const lines = (rest + value).split('\n');
        rest = lines.pop();
        const batch = [];
        for (const line of lines) {
          if (!line.trim()) continue;
          const ev = JSON.parse(line);
          const t = Date.parse(ev.time);
          if (t < lastTime || atLast.has(key(ev))) continue;
          if (t > lastTime) atLast.clear();
          lastTime = t;
          atLast.add(key(ev));
          since = ev.time;
          batch.push(ev);
        }
        if (batch.length) onEvents(batch);
      }
    } catch (err) {
      if (signal?.aborted) return;
      // The server went away: the state channel says so; retry.
    }
    await new Promise(r => setTimeout(r, 2000));
  }
}

const shownEvents = 500;

export function eventsView(store) {
  if (!mayReadEvents()) return { el: h('section', {class: 'events-page'}, h('p', {class: 'summary'}, eventsRefused)), update() {} };
  const filters = {kind: '', server: '', camera: '', since: '24h'};
  const list = h('div', {class: 'event-list'});
  const status = h('p', {class: 'summary'});
  let events = [], abort = null, timer = null;

  // query starts the server's query for the filters, replacing the last.
  function query() {
    abort?.abort();
    abort = new AbortController();
    events = [];
    const q = {limit: String(shownEvents)};
    for (const [k, v] of Object.entries(filters)) if (v) q[k] = v;
    const asked = new URLSearchParams(q).toString();
    list.dataset.query = '';
    status.className = 'summary';
    status.textContent = 'asking the site…';
    list.replaceChildren();
    followEvents(q, batch => {
      events.push(...batch);
      if (events.length > shownEvents) events.splice(0, events.length - shownEvents);
      render(asked);
    }, {signal: abort.signal, onOpen: () => render(asked), onError: msg => {
      status.className = 'summary error';
      status.textContent = `The server refused the query: ${msg}`;
      list.dataset.query = asked;
      list.replaceChildren();
    }});
  }

  function render(asked) {
    const picked = Object.entries(filters).filter(([, v]) => v).map(([k, v]) => `${k} ${v}`);
    status.className = 'summary';
    status.textContent = `${events.length}${events.length === shownEvents ? ' (the latest)' : ''} events` + (picked.length ? ` matching ${picked.join(', ')}` : '') + ' (every server\'s history)';
    list.dataset.query = asked;
    list.replaceChildren(eventList(events.slice().reverse()));
  }

  const input = (key, label, placeholder) => h('label', null, label, ' ',
    h('input', {type: 'search', placeholder, value: filters[key], 'data-filter': key, oninput: e => {
      filters[key] = e.target.value.trim();
      clearTimeout(timer);
      timer = setTimeout(query, 300);
    }}));
  const el = h('section', {class: 'events-page'},
    h('div', {class: 'filters'},
      input('kind', 'Kind', 'all (camera.*, storage)'),
      input('server', 'Server', 'all'),
      input('camera', 'Camera', 'all'),
      input('since', 'Since', '24h')),
    status,
    list);
  query();
  return { el, update() {}, destroy() { clearTimeout(timer); abort?.abort(); } };
}
