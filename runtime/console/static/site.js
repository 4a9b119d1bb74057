// The site page: the servers (AddPac-style monitoring table), the cameras
// with their state and the one-line reason, and the latest events.
import { h, bytes, since, recordingServers } from './util.js';
import { eventList } from './events.js';

export function siteView(store) {
  const servers = h('tbody');
  const cameras = h('tbody');
  const events = h('div');
  const summary = h('p', {class: 'summary'});
  const el = h('section', {class: 'site'},
    summary,
    h('h2', null, 'Servers'),
    h('table', {class: 'servers'},
      h('thead', null, h('tr', null, ...['Server', 'Kind', 'Role', 'Health', 'Recording', 'Viewers', 'CPU', 'Memory', 'Storage'].map(t => h('th', null, t)))),
      servers),
    h('h2', null, 'Cameras'),
    h('table', {class: 'cameras'},
      h('thead', null, h('tr', null, ...['Camera', 'State', 'Recorded by', 'Why'].map(t => h('th', null, t)))),
      cameras),
    h('h2', null, 'Latest events'),
    events);

  function update(what) {
    const st = store.state;
    if (what === 'event' || what === 'state') events.replaceChildren(eventList(store.events.slice(-15).reverse()));
    if (what !== 'state' || !st) return;
    const spec = st.spec;
    const specServer = name => spec?.servers?.find(s => s.name === name);
    const alive = (st.servers || []).filter(s => s.health === 'alive').length;
    const recorded = (st.cameras || []).filter(c => recordingServers(c).length > 0).length;
    summary.textContent = `${alive} of ${(st.servers || []).length} servers alive · ${recorded} of ${(st.cameras || []).length} cameras recorded`;
    servers.replaceChildren(...(st.servers || []).map(s => {
      const sp = specServer(s.name);
      const max = sp?.max_cameras ? sp.max_cameras : '∞';
      const used = (s.storage || []).reduce((n, v) => n + v.used_bytes, 0);
      const limits = (sp?.storage || []).map(v => v.max_size || 0);
      const size = limits.length && limits.every(n => n > 0)
        ? limits.reduce((a, b) => a + b, 0)
        : (s.storage || []).reduce((n, v) => n + v.total_bytes, 0);
      const live = s.health === 'alive' || s.health === 'suspect';
      return h('tr', {class: `health-${s.health}`, 'data-server': s.name},
        h('td', null, s.name, s.message ? h('div', {class: 'note'}, s.message) : null),
        h('td', null, s.kind),
        h('td', null, s.role),
        h('td', null, h('span', {class: `badge ${s.health}`}, s.health), s.since && s.health !== 'unknown' ? h('span', {class: 'since'}, ` ${since(s.since)}`) : null),
        h('td', {class: 'num'}, s.kind === 'witness' || s.kind === 'virtual' ? '—' : `${live ? s.recording : 0} / ${max}`),
        h('td', {class: 'num'}, live ? (s.live_viewers || 0) : '—'),
        h('td', {class: 'num'}, live ? `${(s.cpu_percent || 0).toFixed(1)} %` : '—'),
        h('td', {class: 'num'}, live ? bytes(s.memory_bytes) : '—'),
        h('td', {class: 'num'}, live && s.storage ? `${bytes(used)} / ${bytes(size)}` : '—'));
    }));
    cameras.replaceChildren(...(st.cameras || []).map(c => {
      const by = recordingServers(c);
      return h('tr', {'data-camera': c.name},
        h('td', null, h('a', {href: `#/camera/${encodeURIComponent(c.name)}`}, c.name)),
        h('td', null, h('span', {class: `badge ${by.length ? c.state : 'nowhere'}`}, c.state)),
        h('td', null, by.join(', ') || '—'),
        h('td', {class: 'reason'}, c.reason || ''));
    }));
  }
  store.listeners.add(update);
  return { el, update, destroy() { store.listeners.delete(update); } };
}
