// The events page: the site's events as they happen, newest first,
// filtered by kind, server and camera.
import { h, clock } from './util.js';

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

export function eventsView(store) {
  const filters = {kind: '', server: '', camera: ''};
  const list = h('div');
  const input = (key, label) => h('label', null, label, ' ',
    h('input', {type: 'search', placeholder: 'all', 'data-filter': key, oninput: e => { filters[key] = e.target.value.trim(); update('event'); }}));
  const el = h('section', {class: 'events-page'},
    h('div', {class: 'filters'}, input('kind', 'Kind'), input('server', 'Server'), input('camera', 'Camera')),
    list);
  function update(what) {
    if (what !== 'event' && list.childElementCount) return;
    const match = (v, f) => !f || (v || '').includes(f);
    const shown = store.events.filter(e => match(e.kind, filters.kind) && match(e.server, filters.server) && match(e.camera, filters.camera));
    list.replaceChildren(eventList(shown.slice(-500).reverse()));
  }
  store.listeners.add(update);
  update('event');
  return { el, update, destroy() { store.listeners.delete(update); } };
}
