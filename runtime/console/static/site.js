// The site page: the site's N+1 verdict and its place in the domain tree,
// the servers (AddPac-style monitoring table), the cameras with their state
// and the one-line reason, and the latest events.
import { h, bytes, since, isSet, dateTime, recordingServers } from './util.js';
import { eventList } from './events.js';
import { mayReadEvents, eventsRefused } from './login.js';

export function siteView(store) {
  const servers = h('tbody');
  const cameras = h('tbody');
  const events = h('div');
  const summary = h('p', {class: 'summary'});
  const nPlusOne = h('p', {class: 'nplusone'});
  const tree = h('p', {class: 'tree'});
  const el = h('section', {class: 'site'},
    summary,
    nPlusOne,
    tree,
    h('h2', null, 'Servers'),
    h('table', {class: 'servers'},
      h('thead', null, h('tr', null, ...['Server', 'Kind', 'Role', 'Health', 'Recording', 'Viewers', 'CPU', 'Memory', 'Storage', 'Footage'].map(t => h('th', null, t)))),
      servers),
    h('h2', null, 'Cameras'),
    h('table', {class: 'cameras'},
      h('thead', null, h('tr', null, ...['Camera', 'State', 'Recorded by', 'Why'].map(t => h('th', null, t)))),
      cameras),
    h('h2', null, 'Latest events'),
    events);

  function update(what) {
    const st = store.state;
    if (!mayReadEvents()) events.replaceChildren(h('p', {class: 'empty'}, eventsRefused));
    else if (what === 'event' || what === 'state') events.replaceChildren(eventList(store.events.slice(-15).reverse()));
    if (what === 'nplusone' || what === 'state') showNPlusOne(nPlusOne, store.nplusone);
    if (what !== 'state' || !st) return;
    showTree(tree, st);
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
      const oldest = (s.storage || []).map(v => v.oldest).filter(isSet).sort((a, b) => Date.parse(a) - Date.parse(b))[0];
      return h('tr', {class: `health-${s.health}`, 'data-server': s.name},
        h('td', null, s.name, s.message ? h('div', {class: 'note'}, s.message) : null),
        h('td', null, s.kind),
        h('td', null, s.role),
        h('td', null, h('span', {class: `badge ${s.health}`}, s.health), s.since && s.health !== 'unknown' ? h('span', {class: 'since'}, ` ${since(s.since)}`) : null),
        h('td', {class: 'num'}, s.kind === 'witness' || s.kind === 'virtual' ? '—' : `${live ? s.recording : 0} / ${max}`),
        h('td', {class: 'num'}, live ? (s.live_viewers || 0) : '—'),
        h('td', {class: 'num'}, live ? `${(s.cpu_percent || 0).toFixed(1)} %` : '—'),
        h('td', {class: 'num'}, live ? bytes(s.memory_bytes) : '—'),
        h('td', {class: 'num'}, live && s.storage ? `${bytes(used)} / ${bytes(size)}` : '—'),
        h('td', {class: 'num footage', title: oldest ? `oldest recording ${dateTime(oldest)}` : ''}, live && oldest ? footageAge(oldest) : '—'));
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

// footageAge says how far back a server's footage reaches: its oldest
// segment's age, in days once it is older than two.
function footageAge(oldest) {
  const hours = (Date.now() - Date.parse(oldest)) / 3600e3;
  if (hours < 1) return 'under 1 h';
  if (hours < 48) return `${Math.round(hours)} h`;
  return `${(hours / 24).toFixed(1)} days`;
}

const count = (n, what) => `${n} ${what}${n === 1 ? '' : 's'}`;
const names = list => list.slice(0, 6).join(', ') + (list.length > 6 ? ` and ${list.length - 6} more` : '');

// showNPlusOne shows the site's N+1 verdict: the agent runs the site's
// assignment once per server with that server dead (planner.CheckNPlusOne,
// the check vigil plan prints). undefined: not heard yet; null: no cameras.
function showNPlusOne(el, n) {
  el.className = 'nplusone';
  if (n === undefined) {
    el.textContent = '';
    return;
  }
  if (n === null) {
    el.textContent = 'N+1: no cameras to check';
    return;
  }
  const locked = n.locked ? ` (${n.locked === 1 ? '1 locked camera goes' : `${n.locked} locked cameras go`} dark with its own server, by design)` : '';
  el.classList.add(n.ok ? 'ok' : 'fail');
  if (n.ok) {
    el.textContent = `N+1: every camera survives any one server failure${locked}`;
    return;
  }
  const parts = [];
  if (n.unplaced?.length) parts.push(`${count(n.unplaced.length, 'camera')} fit nowhere even with every server up (${names(n.unplaced)})`);
  for (const l of n.losses || []) parts.push(`${l.server}'s failure strands ${count(l.cameras.length, 'camera')} (${names(l.cameras)})`);
  el.textContent = `N+1 fails: ${parts.join('; ')}${locked}`;
}

// showTree shows the site's place in its domain's tree as far as this
// server knows it: the whole tree when its configuration directory
// describes the domain (st.domain), else only the parent that the
// committed spec names.
function showTree(el, st) {
  el.dataset.parent = st.spec?.parent || '';
  if (st.domain) {
    const byName = new Map(st.domain.sites.map(s => [s.name, s]));
    const path = [];
    for (let s = byName.get(st.site); s && !path.includes(s.name); s = byName.get(s.parent)) path.unshift(s.name);
    const children = st.domain.sites.filter(s => s.parent === st.site).map(s => s.name);
    el.replaceChildren(`Domain${st.domain.name ? ` ${st.domain.name}` : ''}: `,
      ...path.flatMap((n, i) => [i ? ' ▸ ' : '', h(n === st.site ? 'strong' : 'span', {class: 'site-node'}, n)]),
      ` · below ${st.site}: `, children.length ? h('span', {class: 'site-node'}, children.join(', ')) : 'no site',
      h('span', {class: 'note'}, ` · ${st.domain.sites.length} sites in all, as ${st.answering}'s configuration directory describes them`));
    return;
  }
  const parent = st.spec?.parent;
  if (!st.spec) {
    el.replaceChildren();
    return;
  }
  if (!parent) {
    el.replaceChildren('Domain tree: no parent site in this site\'s spec. Sites below it, if any, are not known from here (vigil plan on the domain\'s configuration shows the whole tree).');
    return;
  }
  el.replaceChildren('Domain tree: ', h('span', {class: 'site-node'}, parent), ' ▸ ', h('strong', {class: 'site-node'}, st.site),
    h('span', {class: 'note'}, ` · what is above ${parent}, its other sites and any sites below ${st.site} are not known from here: this site's spec names only its parent (vigil plan on the domain's configuration shows the whole tree).`));
}
