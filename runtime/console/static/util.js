// Small helpers shared by the views: building elements and formatting.

// h builds an element: h('td', {class: 'x', onclick: fn}, 'text', child...).
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v == null) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

// bytes formats a size in decimal units, as the configuration writes them.
export function bytes(n) {
  if (!n) return '0 B';
  const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return `${n >= 100 || i === 0 ? Math.round(n) : n.toFixed(1)} ${units[i]}`;
}

export function clock(t) {
  const d = new Date(t);
  return isNaN(d) ? '' : d.toLocaleTimeString([], {hour12: false});
}

export function dateTime(t) {
  const d = new Date(t);
  return isNaN(d) ? '' : `${d.toLocaleDateString()} ${d.toLocaleTimeString([], {hour12: false})}`;
}

// since says how long ago t was, in words ("3 min").
export function since(t) {
  const ms = Date.now() - new Date(t).getTime();
  if (!(ms >= 0)) return '';
  const s = Math.round(ms / 1000);
  if (s < 90) return `${s} s`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min`;
  if (s < 36 * 3600) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

// zeroTime tells Go's zero time.Time apart from a real one.
export function isSet(t) {
  return t && !String(t).startsWith('0001-');
}

// recordingServers names the servers whose session records a camera now.
export function recordingServers(cam) {
  return (cam.recorders || []).filter(r => r.state === 'recording').map(r => r.server);
}
