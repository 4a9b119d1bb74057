// A camera's timeline (GET /v1/recordings): spans coloured by server, gaps
// by cause, holds marked, from 1 hour to 30 days; it follows the recording
// as it goes on. A click plays the footage from that moment (onPlay), a
// cursor marks the moment being played, and a drag selects a period
// (onSelect).
import { h, dateTime, clock } from './util.js';

export const zooms = [
  ['1 h', 3600e3], ['6 h', 6 * 3600e3], ['24 h', 24 * 3600e3], ['7 d', 7 * 86400e3], ['30 d', 30 * 86400e3],
];

const palette = ['#2e90fa', '#12b76a', '#9e77ed', '#f79009', '#ee46bc', '#15b79e', '#6172f3', '#a15c07'];
const causeColours = {
  'server failure': '#d92d20', 'camera unreachable': '#f79009', 'wrong credentials': '#dc6803',
  'camera certificate': '#dc6803',
  'stream stalled': '#fdb022', 'camera disconnected': '#f79009', 'storage': '#7a5af8', 'restart': '#667085',
  'not recorded': '#d0d5dd', // e.g. before the camera's first recording
};

// serverColour gives each server of the spec its own colour.
export function serverColour(store, server) {
  const i = (store.state?.spec?.servers || []).findIndex(s => s.name === server);
  return palette[(i < 0 ? 0 : i) % palette.length];
}

export function timeline(store, camera, {onPlay, onSelect}) {
  let span = zooms[0][1];
  let end = null; // null: follows now
  let data = null;
  let cursor = null;
  let selection = null;
  const track = h('div', {class: 'track'});
  const axis = h('div', {class: 'axis'});
  const legend = h('div', {class: 'legend'});
  const status = h('span', {class: 'tl-status'});
  const zoomButtons = zooms.map(([label, ms]) =>
    h('button', {type: 'button', 'data-zoom': label, onclick: () => { span = ms; refresh(); }}, label));
  const el = h('div', {class: 'timeline'},
    h('div', {class: 'toolbar'}, 'Zoom ', zoomButtons,
      h('button', {type: 'button', title: 'earlier', onclick: () => { end = range()[1] - span / 2; refresh(); }}, '‹'),
      h('button', {type: 'button', title: 'later', onclick: () => { end = range()[1] + span / 2; if (end >= Date.now()) end = null; refresh(); }}, '›'),
      h('button', {type: 'button', onclick: () => { end = null; refresh(); }}, 'now'),
      status),
    track, axis, legend);

  function range() {
    const e = end ?? Date.now();
    return [e - span, e];
  }
  const at = x => { const [s] = range(); return s + x * span; };
  const pct = t => { const [s] = range(); return `${((t - s) / span) * 100}%`; };
  const width = (a, b) => `${Math.max(0, ((b - a) / span) * 100)}%`;

  track.classList.add('interactive');
  let down = null;
  const timeAt = e => {
    const r = track.getBoundingClientRect();
    return Math.min(at(Math.min(1, Math.max(0, (e.clientX - r.left) / r.width))), Date.now() - 1000);
  };
  track.addEventListener('mousedown', e => { down = {x: e.clientX, t: timeAt(e)}; });
  const up = e => {
    if (!down) return;
    const from = down;
    down = null;
    if (Math.abs(e.clientX - from.x) < 4) {
      onPlay(new Date(from.t));
      return;
    }
    const t = timeAt(e);
    selection = [Math.min(from.t, t), Math.max(from.t, t)];
    onSelect(selection.map(x => new Date(x)));
    draw();
  };
  window.addEventListener('mouseup', up);

  async function refresh() {
    for (const b of zoomButtons) b.classList.toggle('active', zooms.find(z => z[0] === b.dataset.zoom)[1] === span);
    const [s, e] = range();
    const q = new URLSearchParams({camera, start: new Date(s).toISOString(), end: new Date(e).toISOString()});
    try {
      const resp = await fetch(`/v1/recordings?${q}`);
      const body = await resp.json();
      if (!resp.ok) throw new Error(body.error || resp.statusText);
      data = body;
      status.textContent = body.complete ? '' : `incomplete: ${(body.missing_servers || []).join(', ')} did not answer`;
    } catch (err) {
      status.textContent = `cannot read the recordings: ${err.message}`;
    }
    draw();
  }

  function draw() {
    const [s, e] = range();
    const items = [];
    const servers = new Set();
    for (const sp of data?.spans || []) {
      const a = Math.max(s, Date.parse(sp.start)), b = Math.min(e, Date.parse(sp.end));
      if (b <= a) continue;
      sp.servers.forEach(n => servers.add(n));
      // One band per server: a span recorded twice shows both colours.
      const n = sp.servers.length;
      sp.servers.forEach((srv, i) => items.push(h('div', {
        class: 'span', 'data-server': srv, title: `${dateTime(sp.start)} – ${dateTime(sp.end)} on ${sp.servers.join(', ')}`,
        style: `left:${pct(a)};width:${width(a, b)};top:${(i / n) * 100}%;height:${100 / n}%;background:${serverColour(store, srv)}`})));
    }
    for (const g of data?.gaps || []) {
      const a = Math.max(s, Date.parse(g.start)), b = Math.min(e, Date.parse(g.end));
      if (b <= a) continue;
      items.push(h('div', {class: 'gap', 'data-cause': g.cause, title: `gap ${dateTime(g.start)} – ${dateTime(g.end)}: ${g.cause}`,
        style: `left:${pct(a)};width:${width(a, b)};background:${causeColours[g.cause] || '#912018'}`}));
    }
    for (const hd of data?.holds || []) {
      const a = Math.max(s, Date.parse(hd.start)), b = Math.min(e, Date.parse(hd.end));
      if (b <= a) continue;
      items.push(h('div', {class: 'hold', title: `hold ${hd.name}${hd.reason ? `: ${hd.reason}` : ''}`, style: `left:${pct(a)};width:${width(a, b)}`}));
    }
    if (selection) items.push(h('div', {class: 'selection', style: `left:${pct(selection[0])};width:${width(selection[0], selection[1])}`}));
    if (cursor) items.push(h('div', {class: 'cursor', style: `left:${pct(cursor)}`}));
    track.replaceChildren(...items);
    const ticks = [];
    for (let i = 0; i <= 6; i++) {
      const t = s + (i / 6) * span;
      ticks.push(h('span', {style: `left:${(i / 6) * 100}%`}, span > 86400e3 ? new Date(t).toLocaleDateString() : clock(t)));
    }
    axis.replaceChildren(...ticks);
    legend.replaceChildren(
      ...[...servers].sort().map(n => h('span', null, h('i', {style: `background:${serverColour(store, n)}`}), n)),
      h('span', null, h('i', {class: 'gap-key'}), 'gap'),
      h('span', null, h('i', {class: 'hold-key'}), 'hold'));
  }

  const timer = setInterval(() => { if (end === null) refresh(); }, 5000);
  refresh();
  return {
    el,
    // redraw draws again with the state as it is now: a server's colour
    // comes from the spec, which may arrive after the recordings.
    redraw: draw,
    // setCursor marks the moment being played (null: none).
    setCursor(t) {
      cursor = t ? t.getTime() : null;
      draw();
    },
    destroy() {
      clearInterval(timer);
      window.removeEventListener('mouseup', up);
    },
  };
}
