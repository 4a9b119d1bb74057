// The cameras page: a grid of 1, 4, 9 or 16 live tiles, a page at a time.
import { h, recordingServers } from './util.js';
import { LivePlayer } from './live.js';

// playbackURL is the HLS playlist of a camera's last minutes, for an
// external player where the browser cannot decode the codec.
export function playbackURL(camera, minutes = 10) {
  const end = new Date();
  const start = new Date(end.getTime() - minutes * 60e3);
  return `${location.origin}/v1/playback/${encodeURIComponent(camera)}/index.m3u8?start=${start.toISOString()}&end=${end.toISOString()}`;
}

// liveTile is one camera's live view with its caption: name, state, the
// server whose recording it shows, and how far behind live it plays.
export function liveTile(name) {
  const video = h('video', {muted: true, autoplay: true, playsinline: true});
  const state = h('span', {class: 'badge'});
  const where = h('span', {class: 'where'});
  const behind = h('span', {class: 'latency', title: 'behind live'});
  const note = h('div', {class: 'note'});
  const el = h('div', {class: 'tile', 'data-camera': name},
    h('div', {class: 'caption'}, h('a', {href: `#/camera/${encodeURIComponent(name)}`, class: 'name'}, name), state, where, behind),
    h('div', {class: 'picture'}, video, note));
  const player = new LivePlayer(video, name, info => {
    el.dataset.server = info.server || '';
    el.dataset.state = info.state;
    where.textContent = info.server ? `from ${info.server}` : '';
    note.hidden = info.state === 'playing';
    switch (info.state) {
      case 'unsupported':
        note.replaceChildren(
          h('div', null, `This browser cannot decode ${info.codec.startsWith('hvc1') ? 'H.265' : info.codec} video.`),
          h('div', null, 'Play it in an external player (VLC, ffplay): ', h('a', {href: playbackURL(name), target: '_blank'}, 'HLS playlist of the last 10 minutes')));
        break;
      case 'error':
        note.replaceChildren(info.error);
        break;
      default:
        note.replaceChildren(info.state === 'starting' ? 'waiting for a key frame…' : `${info.state}…`);
    }
  });
  const timer = setInterval(() => {
    const ms = player.latency();
    behind.textContent = ms == null ? '' : `${(ms / 1000).toFixed(1)} s`;
    el.dataset.latency = ms == null ? '' : Math.round(ms);
  }, 1000);
  return {
    el, player,
    // update follows the camera's state: a view whose server no longer
    // records the camera moves to the one that does.
    update(cam) {
      if (!cam) return;
      state.textContent = cam.state;
      const by = recordingServers(cam);
      state.className = `badge ${by.length ? cam.state : 'nowhere'}`;
      const info = player.info;
      const waiting = !player.ws && info.state !== 'unsupported'; // for its retry timer
      if (by.length && (waiting || (info.server && !by.includes(info.server)))) {
        player.restart();
      }
    },
    destroy() {
      clearInterval(timer);
      player.stop();
    },
  };
}

export function camerasView(store) {
  let size = Number(localStorage.getItem('vigil.grid')) || 4;
  let page = 0;
  let tiles = new Map();
  const grid = h('div', {class: 'grid'});
  const pager = h('span', {class: 'pager'});
  const sizes = h('span', {class: 'sizes'}, [1, 4, 9, 16].map(n =>
    h('button', {type: 'button', 'data-size': n, onclick: () => { size = n; page = 0; localStorage.setItem('vigil.grid', n); layout(); }}, n)));
  const el = h('section', {class: 'cameras-page'}, h('div', {class: 'toolbar'}, 'Tiles ', sizes, pager), grid);

  function layout() {
    const cams = store.state?.cameras || [];
    const pages = Math.max(1, Math.ceil(cams.length / size));
    page = Math.min(page, pages - 1);
    const shown = cams.slice(page * size, page * size + size).map(c => c.name);
    for (const b of sizes.children) b.classList.toggle('active', Number(b.dataset.size) === size);
    pager.replaceChildren(
      h('button', {type: 'button', disabled: page === 0, onclick: () => { page--; layout(); }}, '‹'),
      ` ${cams.length ? page * size + 1 : 0}–${page * size + shown.length} of ${cams.length} `,
      h('button', {type: 'button', disabled: page >= pages - 1, onclick: () => { page++; layout(); }}, '›'));
    grid.style.gridTemplateColumns = `repeat(${Math.sqrt(size)}, 1fr)`;
    if (shown.join('\n') !== [...tiles.keys()].join('\n')) {
      for (const t of tiles.values()) t.destroy();
      tiles = new Map(shown.map(n => [n, liveTile(n)]));
      grid.replaceChildren(...[...tiles.values()].map(t => t.el));
    }
    for (const [n, t] of tiles) t.update(cams.find(c => c.name === n));
  }
  function update(what) {
    if (what === 'state') layout();
  }
  store.listeners.add(update);
  return {
    el, update,
    destroy() {
      store.listeners.delete(update);
      for (const t of tiles.values()) t.destroy();
    },
  };
}
