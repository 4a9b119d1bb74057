// Playback of recorded footage with hls.js (vendored) from the site's HLS
// playlist (GET /v1/playback/CAMERA/index.m3u8), across server switches,
// showing the wall-clock time of the picture.
import Hls from './vendor/hls.js/hls.light.min.mjs';
import { h, dateTime } from './util.js';

// playlistURL is the playlist of a camera's footage from start to end.
export function playlistURL(camera, start, end) {
  const q = new URLSearchParams({start: start.toISOString(), end: end.toISOString()});
  return `/v1/playback/${encodeURIComponent(camera)}/index.m3u8?${q}`;
}

export function playback(camera, from, {onTime, onClose}) {
  const video = h('video', {controls: true, autoplay: true, playsinline: true});
  video.muted = true;
  const wall = h('span', {class: 'wall'});
  const note = h('div', {class: 'note'});
  note.hidden = true;
  const el = h('div', {class: 'playback', 'data-camera': camera},
    h('div', {class: 'caption'}, h('strong', null, camera), 'recorded', wall,
      h('button', {type: 'button', onclick: () => onClose()}, 'Back to live')),
    video, note);
  // An hour from the chosen moment, or up to now.
  const end = new Date(Math.min(Date.now(), from.getTime() + 3600e3));
  const url = playlistURL(camera, from, end);
  let hls = null;
  if (Hls.isSupported()) {
    hls = new Hls({maxBufferLength: 20});
    hls.on(Hls.Events.ERROR, (_, d) => {
      if (!d.fatal) return;
      note.hidden = false;
      note.textContent = `cannot play the footage: ${d.details}${d.response?.code ? ` (HTTP ${d.response.code})` : ''}`;
    });
    hls.loadSource(url);
    hls.attachMedia(video);
  } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
    video.src = url;
  } else {
    note.hidden = false;
    note.replaceChildren('This browser cannot play HLS: open ', h('a', {href: url}, 'the playlist'), ' in an external player.');
  }
  video.addEventListener('timeupdate', () => {
    // The playlist's program date-times give the wall clock; without
    // them, the time from the start.
    const d = hls?.playingDate || new Date(from.getTime() + video.currentTime * 1000);
    wall.textContent = dateTime(d);
    el.dataset.wall = d.toISOString();
    onTime(d);
  });
  return {
    el, video,
    destroy() {
      hls?.destroy();
      video.removeAttribute('src');
      video.load();
    },
  };
}
