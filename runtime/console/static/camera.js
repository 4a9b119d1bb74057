// A camera's page: its live view (or recorded footage after a click on the
// timeline), what records it and why, and its timeline across the site.
import { h, dateTime, isSet, recordingServers } from './util.js';
import { liveTile } from './cameras.js';
import { timeline } from './timeline.js';
import { playback } from './playback.js';
import { exportPanel } from './export.js';

export function cameraView(store, name) {
  const view = h('div', {class: 'view'});
  const facts = h('dl', {class: 'facts'});
  let tile = null, player = null;

  function showLive() {
    player?.destroy();
    player = null;
    tile = liveTile(name);
    tile.el.classList.add('large');
    view.replaceChildren(tile.el);
    tl.setCursor(null);
    update('state');
  }
  function play(from) {
    tile?.destroy();
    tile = null;
    player?.destroy();
    player = playback(name, from, {onTime: t => tl.setCursor(t), onClose: showLive});
    view.replaceChildren(player.el);
  }
  const exp = exportPanel(name);
  const tl = timeline(store, name, {onPlay: play, onSelect: exp.select});
  const el = h('section', {class: 'camera-page'},
    h('h2', null, h('a', {href: '#/cameras'}, 'Cameras'), ' / ', name),
    h('div', {class: 'camera-top'}, view, facts),
    tl.el,
    exp.el);

  let servers = null; // the spec's servers the timeline was drawn with
  function update(what) {
    if (what !== 'state') return;
    // The timeline's colours follow the spec's servers, which may arrive
    // after its recordings: draw it again when they change.
    const names = (store.state?.spec?.servers || []).map(s => s.name).join(' ');
    if (names !== servers) {
      servers = names;
      tl.redraw();
    }
    const cam = store.state?.cameras?.find(c => c.name === name);
    if (!cam) {
      facts.replaceChildren(h('dt', null, 'Camera'), h('dd', null, `${name} is not in the committed spec`));
      return;
    }
    tile?.update(cam);
    const gap = cam.last_gap;
    const row = (k, v) => [h('dt', null, k), h('dd', null, v)];
    facts.replaceChildren(
      ...row('State', h('span', {class: `badge ${recordingServers(cam).length ? cam.state : 'nowhere'}`}, cam.state)),
      ...row('Why', cam.reason || '—'),
      ...row('Primary server', cam.server),
      ...row('Recorded by', (cam.recorders || []).map(r => `${r.server} (${r.role}, ${r.state}${r.error ? `: ${r.error}` : ''})`).join('; ') || 'nobody'),
      ...row('Last gap', gap ? `${dateTime(gap.start)} – ${isSet(gap.end) ? dateTime(gap.end) : 'now'} (${gap.cause})` : 'none seen'));
  }
  store.listeners.add(update);
  showLive();
  return {
    el, update,
    destroy() {
      store.listeners.delete(update);
      tile?.destroy();
      player?.destroy();
      tl.destroy();
    },
  };
}
