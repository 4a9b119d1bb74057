// The export of a period selected on the timeline: the site's signed
// export (GET /v1/console/export/CAMERA.zip, the MP4 and its manifest for
// `vigil verify`). The page exports with its session (an operator or admin
// may).
import { h, dateTime, bytes } from './util.js';

export function exportPanel(camera) {
  let period = null;
  const what = h('span', null, 'Drag on the timeline to choose a period to export.');
  const button = h('button', {type: 'button', disabled: true, onclick: run}, 'Export');
  const result = h('span', {class: 'result'});
  const el = h('div', {class: 'export'}, what, button, result);

  async function run() {
    const [start, end] = period;
    const q = new URLSearchParams({start: start.toISOString(), end: end.toISOString()});
    button.disabled = true;
    result.className = 'result';
    result.textContent = 'exporting…';
    try {
      const resp = await fetch(`/v1/console/export/${encodeURIComponent(camera)}.zip?${q}`);
      if (!resp.ok) throw new Error((await resp.json().catch(() => ({}))).error || resp.statusText);
      const blob = await resp.blob();
      const name = (resp.headers.get('Content-Disposition') || '').match(/filename="([^"]+)"/)?.[1] || `${camera}.zip`;
      const link = h('a', {href: URL.createObjectURL(blob), download: name}, name);
      result.replaceChildren(link, ` (${bytes(blob.size)}): the MP4 and its signed manifest; check it with vigil verify ${name.replace(/\.zip$/, '.mp4')}`);
      el.dataset.export = name;
      link.click();
    } catch (err) {
      result.className = 'result error';
      result.textContent = `export failed: ${err.message}`;
    } finally {
      button.disabled = false;
    }
  }
  return {
    el,
    select(p) {
      period = p;
      what.textContent = `${dateTime(p[0])} – ${dateTime(p[1])}`;
      button.disabled = false;
    },
  };
}
