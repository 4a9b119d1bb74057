// Live video of one camera: fMP4 fragments from GET /v1/live/CAMERA (a
// WebSocket) fed to Media Source Extensions. The server sends a JSON hello
// (the server whose recording session the frames come from, the codec, the
// wall-clock time of media time 0), then an init section and one fragment
// per frame. The player keeps close to the live edge, reconnects when the
// stream ends (the camera moved to another server) and reports what it is
// doing through onInfo.
export class LivePlayer {
  constructor(video, camera, onInfo) {
    this.video = video;
    this.camera = camera;
    this.onInfo = onInfo;
    this.info = {state: 'connecting', server: '', error: ''};
    this.retry = 1000;
    this.queue = [];
    this.stopped = false;
    video.muted = true;
    video.playsInline = true;
    video.addEventListener('playing', () => this.set({state: 'playing'}));
    this.start();
  }

  start() {
    if (this.stopped) return;
    clearTimeout(this.timer);
    const proto = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${proto}://${location.host}/v1/live/${encodeURIComponent(this.camera)}`);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onmessage = e => { if (this.ws === ws) this.message(e.data); };
    ws.onclose = () => {
      if (this.ws !== ws || this.stopped) return;
      this.ws = null;
      if (this.info.state !== 'error' && this.info.state !== 'unsupported') this.set({state: 'reconnecting'});
      if (this.info.state === 'unsupported') return;
      this.timer = setTimeout(() => this.start(), this.retry);
      this.retry = Math.min(this.retry * 2, 5000);
    };
  }

  // restart drops the stream and opens a new one at once (the camera moved).
  restart() {
    const ws = this.ws;
    this.ws = null;
    ws?.close();
    this.retry = 1000;
    this.set({state: 'connecting', server: ''});
    this.start();
  }

  message(data) {
    if (typeof data === 'string') {
      const m = JSON.parse(data);
      if (m.error || m.end) {
        this.set({state: m.error ? 'error' : 'reconnecting', error: m.error || m.end});
        return; // the server closes; onclose retries
      }
      if (m.resync && this.ms) { // the same stream, its frames' clock re-pinned
        this.epoch = m.epoch_ms;
        return;
      }
      const type = `video/mp4; codecs="${m.codec}"`;
      if (!window.MediaSource || !MediaSource.isTypeSupported(type)) {
        this.set({state: 'unsupported', server: m.server, codec: m.codec, error: ''});
        const ws = this.ws;
        this.ws = null;
        ws?.close();
        return;
      }
      this.retry = 1000;
      this.epoch = m.epoch_ms;
      this.newSource(type);
      this.set({state: 'starting', server: m.server, codec: m.codec, error: ''});
      return;
    }
    if (!this.ms) return;
    this.queue.push(new Uint8Array(data));
    if (this.queue.length > 250) { // the browser fell 10 s behind: start over
      this.restart();
      return;
    }
    this.pump();
  }

  newSource(type) {
    this.queue = [];
    this.sb = null;
    const ms = new MediaSource();
    this.ms = ms;
    if (this.url) URL.revokeObjectURL(this.url);
    this.url = URL.createObjectURL(ms);
    this.video.src = this.url;
    ms.addEventListener('sourceopen', () => {
      if (this.ms !== ms) return;
      this.sb = ms.addSourceBuffer(type);
      this.sb.addEventListener('updateend', () => this.updated());
      this.pump();
    }, {once: true});
  }

  pump() {
    const sb = this.sb;
    if (!sb || sb.updating || !this.queue.length) return;
    let n = 0;
    for (const b of this.queue) n += b.length;
    const buf = new Uint8Array(n);
    let o = 0;
    for (const b of this.queue) { buf.set(b, o); o += b.length; }
    this.queue = [];
    try {
      sb.appendBuffer(buf);
    } catch (e) {
      this.set({state: 'error', error: `the browser refused the video: ${e.message}`});
      this.restart();
    }
  }

  // updated keeps playback near the live edge and the buffer short.
  updated() {
    const v = this.video, b = v.buffered, sb = this.sb;
    if (b.length && sb) {
      const start = b.start(b.length - 1), end = b.end(b.length - 1);
      if (v.currentTime < start || end - v.currentTime > 1.5) v.currentTime = Math.max(start, end - 0.3);
      if (v.paused) v.play().catch(() => {});
      if (v.currentTime - b.start(0) > 30) {
        sb.remove(0, v.currentTime - 10); // updateend follows: pump then
        return;
      }
    }
    this.pump();
  }

  // latency is how far behind the recorder's clock the picture is, in ms.
  latency() {
    if (!this.epoch || this.info.state !== 'playing') return null;
    return Date.now() - (this.epoch + this.video.currentTime * 1000);
  }

  set(patch) {
    Object.assign(this.info, patch);
    this.onInfo(this.info);
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    const ws = this.ws;
    this.ws = null;
    ws?.close();
    this.ms = null;
    this.video.removeAttribute('src');
    this.video.load();
    if (this.url) URL.revokeObjectURL(this.url);
  }
}
