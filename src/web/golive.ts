// The studio's "Go live from this browser": camera and microphone (pickers, preview, level meter), the screen with
// the camera as a picture-in-picture, composed on a canvas so one 1280×720 video track leaves the browser whatever is
// shown; WHIP to /whip/<channel> with the instructor's join token; mute, switch, End class, and a reconnect when the
// connection drops. Errors are said in words a teacher can act on.

import { connected, gathered } from './rtc.js';
import { h } from './dom.js';

export type Mode = 'camera' | 'screen' | 'both';

const WIDTH = 1280;
const HEIGHT = 720;
const FPS = 30;
/** The video bitrate the browser is asked to stay under. */
const MAX_BITRATE = 2_500_000;
/** How long ICE may take before we say the network blocks WebRTC. */
const CONNECT_MS = 15_000;

/** Words for a getUserMedia / getDisplayMedia failure. */
export function mediaError(err: unknown, what: 'camera' | 'screen'): string {
  const name = (err as { name?: string }).name ?? '';
  if (what === 'screen' && name === 'NotAllowedError') return 'Screen sharing was cancelled or not allowed; showing the camera.';
  if (name === 'NotAllowedError' || name === 'SecurityError') {
    return 'The browser was not allowed to use the camera or microphone. Allow them for this site (the camera icon in the address bar) and press the button again. Inside the LMS, open the studio in its own window (↗) if the course page does not allow the camera.';
  }
  if (name === 'NotFoundError' || name === 'OverconstrainedError') return 'No camera or microphone was found. Plug one in and press the button again, or share your screen.';
  if (name === 'NotReadableError' || name === 'AbortError') return 'The camera or microphone is in use by another application (Zoom, Teams?). Close it and press the button again.';
  if (!navigator.mediaDevices) return 'This page cannot use the camera: open it over HTTPS (or on this computer as localhost).';
  return `The ${what} could not be started: ${(err as Error).message ?? String(err)}`;
}

/** Where a picture of w×h goes inside W×H without cropping: centred, the largest that fits. */
export function fit(w: number, h: number, W: number, H: number): { x: number; y: number; w: number; h: number } {
  const s = Math.min(W / Math.max(1, w), H / Math.max(1, h));
  const dw = Math.round(w * s);
  const dh = Math.round(h * s);
  return { x: Math.round((W - dw) / 2), y: Math.round((H - dh) / 2), w: dw, h: dh };
}

/** A 30 fps clock in a worker: a page's own timers slow to once a second when the teacher switches to the slides. */
function ticker(onTick: () => void): { start(): void; stop(): void } {
  let worker: Worker | undefined;
  try {
    worker = new Worker(URL.createObjectURL(new Blob(['let t;onmessage=(e)=>{clearInterval(t);if(e.data)t=setInterval(()=>postMessage(0),e.data)}'], { type: 'text/javascript' })));
    worker.onmessage = onTick;
  } catch {
    worker = undefined;
  }
  let timer: number | undefined;
  return {
    start: () => (worker ? worker.postMessage(Math.round(1000 / FPS)) : (timer = window.setInterval(onTick, 1000 / FPS))),
    stop: () => (worker ? worker.postMessage(0) : clearInterval(timer)),
  };
}

export class GoLive {
  readonly el: HTMLElement;
  private readonly status = h('p', { class: 'golive-status', role: 'status', 'aria-live': 'polite' });
  private readonly camSel = h('select', { 'aria-label': 'camera', disabled: true });
  private readonly micSel = h('select', { 'aria-label': 'microphone', disabled: true });
  private readonly level = h('span', { class: 'level-bar' });
  private readonly meter = h('div', { class: 'level', role: 'meter', 'aria-label': 'microphone level', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': 0 }, this.level);
  private readonly canvas = h('canvas', { width: WIDTH, height: HEIGHT });
  private readonly preview = h('video', { class: 'golive-preview', muted: true, playsinline: true, autoplay: true, 'aria-label': 'what learners see' });
  private readonly startBtn = h('button', { type: 'button', class: 'primary', onclick: () => void this.turnOn() }, 'Turn on camera and microphone');
  private readonly liveBtn = h('button', { type: 'button', class: 'primary', disabled: true, onclick: () => void this.goLive() }, 'Go live');
  private readonly muteBtn = h('button', { type: 'button', disabled: true, 'aria-pressed': 'false', onclick: () => this.toggleMute() }, 'Mute microphone');
  private readonly endBtn = h('button', { type: 'button', class: 'danger', disabled: true, onclick: () => void this.end() }, 'End class');
  private readonly modeBtns: Record<Mode, HTMLButtonElement>;
  private mode: Mode = 'camera';
  private cam?: MediaStream;
  private screen?: MediaStream;
  private readonly camVideo = h('video', { muted: true, playsinline: true, autoplay: true });
  private readonly screenVideo = h('video', { muted: true, playsinline: true, autoplay: true });
  private out?: MediaStream;
  private pc?: RTCPeerConnection;
  private audioSender?: RTCRtpSender;
  private resource?: string;
  private audio?: { ctx: AudioContext; analyser: AnalyserNode; data: Uint8Array<ArrayBuffer> };
  private readonly clock = ticker(() => this.draw());
  private live = false;
  private ending = false;
  private retries = 0;

  constructor(private readonly channel: string, private readonly token: string) {
    const mode = (m: Mode, label: string): HTMLButtonElement => h('button', {
      type: 'button', class: 'mode', 'data-mode': m, 'aria-pressed': m === 'camera' ? 'true' : 'false', disabled: true, onclick: () => void this.setMode(m),
    }, label);
    this.modeBtns = { camera: mode('camera', 'Camera'), screen: mode('screen', 'Screen'), both: mode('both', 'Screen + camera') };
    this.camSel.addEventListener('change', () => void this.openCamera());
    this.micSel.addEventListener('change', () => void this.openCamera());
    this.el = h('div', { class: 'golive' },
      h('div', { class: 'golive-stage' }, this.preview),
      h('div', { class: 'golive-controls' },
        h('label', {}, 'Camera ', this.camSel), h('label', {}, 'Microphone ', this.micSel),
        h('div', { class: 'level-row' }, h('span', { class: 'sub' }, 'Level'), this.meter),
        h('div', { class: 'modes', role: 'group', 'aria-label': 'what learners see' }, this.modeBtns.camera, this.modeBtns.screen, this.modeBtns.both),
        h('div', { class: 'actions' }, this.startBtn, this.liveBtn, this.muteBtn, this.endBtn)),
      this.status);
    if (!navigator.mediaDevices?.getUserMedia) {
      this.say('This browser cannot send a camera from this page (it needs HTTPS, or localhost). Use OBS with the settings below.');
      this.startBtn.disabled = true;
    }
  }

  private say(text: string, kind: 'info' | 'error' = 'info'): void {
    this.status.textContent = text;
    this.status.className = `golive-status${kind === 'error' ? ' error' : ''}`;
  }

  /** Asks for the camera and microphone (the browser's prompt), fills the pickers, starts the preview. */
  private async turnOn(): Promise<void> {
    if (!(await this.openCamera())) return;
    const devices = await navigator.mediaDevices.enumerateDevices().catch(() => [] as MediaDeviceInfo[]);
    const fill = (sel: HTMLSelectElement, kind: MediaDeviceKind, current?: MediaStreamTrack): void => {
      const chosen = current?.getSettings().deviceId;
      sel.replaceChildren(...devices.filter((d) => d.kind === kind).map((d, i) => h('option', { value: d.deviceId, selected: d.deviceId === chosen }, d.label || `${kind === 'videoinput' ? 'Camera' : 'Microphone'} ${i + 1}`)));
      sel.disabled = sel.options.length === 0;
    };
    fill(this.camSel, 'videoinput', this.cam?.getVideoTracks()[0]);
    fill(this.micSel, 'audioinput', this.cam?.getAudioTracks()[0]);
    this.startBtn.hidden = true;
    this.liveBtn.disabled = false;
    for (const b of Object.values(this.modeBtns)) b.disabled = false;
    this.muteBtn.disabled = false;
    this.say('Camera on. This preview is what learners will see. Press “Go live” to start the class.');
  }

  private async openCamera(): Promise<boolean> {
    const video: MediaTrackConstraints = { width: { ideal: WIDTH }, height: { ideal: HEIGHT }, ...(this.camSel.value ? { deviceId: { exact: this.camSel.value } } : {}) };
    const audio: MediaTrackConstraints = { echoCancellation: true, noiseSuppression: true, ...(this.micSel.value ? { deviceId: { exact: this.micSel.value } } : {}) };
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video, audio });
    } catch (err) {
      this.say(mediaError(err, 'camera'), 'error');
      return false;
    }
    const muted = this.muteBtn.getAttribute('aria-pressed') === 'true';
    for (const t of this.cam?.getTracks() ?? []) t.stop();
    this.cam = stream;
    this.camVideo.srcObject = stream;
    void this.camVideo.play().catch(() => {});
    const mic = stream.getAudioTracks()[0];
    if (mic) mic.enabled = !muted;
    this.listen(mic);
    this.compose(mic);
    return true;
  }

  /** The stream that leaves the browser: the canvas's picture and the microphone. */
  private compose(mic: MediaStreamTrack | undefined): void {
    if (!this.out) {
      this.out = this.canvas.captureStream(FPS);
      this.preview.srcObject = this.out;
      void this.preview.play().catch(() => {});
      this.clock.start();
    }
    for (const t of this.out.getAudioTracks()) this.out.removeTrack(t);
    if (mic) this.out.addTrack(mic);
    if (mic) void this.audioSender?.replaceTrack(mic).catch(() => {});
  }

  private listen(mic: MediaStreamTrack | undefined): void {
    if (!mic) return;
    try {
      this.audio ??= (() => {
        const ctx = new AudioContext();
        const analyser = ctx.createAnalyser();
        analyser.fftSize = 512;
        return { ctx, analyser, data: new Uint8Array(new ArrayBuffer(analyser.fftSize)) };
      })();
      this.audio.ctx.createMediaStreamSource(new MediaStream([mic])).connect(this.audio.analyser);
      void this.audio.ctx.resume();
    } catch {
      // no meter; the class still works
    }
  }

  private draw(): void {
    const ctx = this.canvas.getContext('2d');
    if (!ctx) return;
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, WIDTH, HEIGHT);
    const cam = this.camVideo.videoWidth ? this.camVideo : undefined;
    const scr = this.screen && this.screenVideo.videoWidth ? this.screenVideo : undefined;
    const put = (v: HTMLVideoElement, box: { x: number; y: number; w: number; h: number }): void => {
      const f = fit(v.videoWidth, v.videoHeight, box.w, box.h);
      ctx.drawImage(v, box.x + f.x, box.y + f.y, f.w, f.h);
    };
    if (this.mode === 'camera' || !scr) {
      if (cam) put(cam, { x: 0, y: 0, w: WIDTH, h: HEIGHT });
    } else {
      put(scr, { x: 0, y: 0, w: WIDTH, h: HEIGHT });
      if (this.mode === 'both' && cam) {
        // The camera in the bottom-right corner, a quarter of the width, with a thin frame.
        const w = Math.round(WIDTH / 4);
        const f = fit(cam.videoWidth, cam.videoHeight, w, w);
        const x = WIDTH - f.w - 24;
        const y = HEIGHT - f.h - 24;
        ctx.fillStyle = '#fff';
        ctx.fillRect(x - 3, y - 3, f.w + 6, f.h + 6);
        ctx.drawImage(cam, x, y, f.w, f.h);
      }
    }
    if (this.audio) {
      const { analyser, data } = this.audio;
      analyser.getByteTimeDomainData(data);
      let peak = 0;
      for (const v of data) peak = Math.max(peak, Math.abs(v - 128));
      const pct = this.muteBtn.getAttribute('aria-pressed') === 'true' ? 0 : Math.min(100, Math.round((peak / 128) * 140));
      this.level.style.width = `${pct}%`;
      this.meter.setAttribute('aria-valuenow', String(pct));
    }
  }

  /** Camera, screen, or screen with the camera in a corner; while live too (the picture changes, the stream goes on). */
  private async setMode(m: Mode): Promise<void> {
    if (m !== 'camera' && !this.screen) {
      try {
        this.screen = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: FPS }, audio: false });
      } catch (err) {
        this.say(mediaError(err, 'screen'), 'error');
        return;
      }
      this.screenVideo.srcObject = this.screen;
      void this.screenVideo.play().catch(() => {});
      // The browser's own "Stop sharing" bar: back to the camera.
      this.screen.getVideoTracks()[0]?.addEventListener('ended', () => {
        this.screen = undefined;
        void this.setMode('camera');
        this.say('Screen sharing stopped; learners see the camera.');
      });
    }
    if (m === 'camera' && this.screen) {
      for (const t of this.screen.getTracks()) t.stop();
      this.screen = undefined;
    }
    this.mode = m;
    for (const [k, b] of Object.entries(this.modeBtns)) b.setAttribute('aria-pressed', String(k === m));
    this.say(m === 'camera' ? 'Learners see the camera.' : m === 'screen' ? 'Learners see your screen.' : 'Learners see your screen with the camera in the corner.');
  }

  private toggleMute(): void {
    const muted = this.muteBtn.getAttribute('aria-pressed') !== 'true';
    for (const t of this.cam?.getAudioTracks() ?? []) t.enabled = !muted;
    this.muteBtn.setAttribute('aria-pressed', String(muted));
    this.muteBtn.textContent = muted ? 'Unmute microphone' : 'Mute microphone';
    this.say(muted ? 'Microphone muted: learners hear nothing.' : 'Microphone on.');
  }

  /** The ICE servers the WHIP endpoint names (Link headers on OPTIONS). */
  private async iceServers(): Promise<RTCIceServer[]> {
    const r = await fetch(`/whip/${this.channel}`, { method: 'OPTIONS' }).catch(() => undefined);
    const link = r?.headers.get('link') ?? '';
    return [...link.matchAll(/<([^>]+)>;\s*rel="ice-server"([^,]*)/g)].map((m) => {
      const user = /username="([^"]*)"/.exec(m[2] ?? '')?.[1];
      const cred = /credential="([^"]*)"/.exec(m[2] ?? '')?.[1];
      return { urls: m[1]!, ...(user ? { username: user, credential: cred ?? '' } : {}) };
    });
  }

  private async goLive(): Promise<void> {
    if (!this.out) return;
    this.liveBtn.disabled = true;
    this.ending = false;
    this.say('Connecting…');
    const failure = await this.connect();
    if (failure) {
      this.say(failure, 'error');
      this.liveBtn.disabled = false;
      return;
    }
    this.live = true;
    this.retries = 0;
    this.liveBtn.hidden = true;
    this.endBtn.disabled = false;
    this.say('You are live. Learners see the preview above, a few seconds behind.');
  }

  /** One WHIP publish; undefined when connected, else what went wrong in words. */
  private async connect(): Promise<string | undefined> {
    const pc = new RTCPeerConnection({ iceServers: await this.iceServers(), bundlePolicy: 'max-bundle' });
    const video = this.out!.getVideoTracks()[0]!;
    // Slides and screens carry text: keep the full picture size and give up frame rate first when bits are short.
    video.contentHint = 'detail';
    const mic = this.cam?.getAudioTracks()[0];
    const videoSender = pc.addTransceiver(video, { direction: 'sendonly', streams: [this.out!], sendEncodings: [{ maxBitrate: MAX_BITRATE }] }).sender;
    this.audioSender = (mic ? pc.addTransceiver(mic, { direction: 'sendonly', streams: [this.out!] }) : pc.addTransceiver('audio', { direction: 'sendonly' })).sender;
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    let r: Response;
    try {
      r = await fetch(`/whip/${this.channel}`, { method: 'POST', headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${this.token}` }, body: pc.localDescription!.sdp });
    } catch {
      pc.close();
      return 'The server could not be reached. Check the network and press “Go live” again.';
    }
    const body = await r.text();
    if (r.status !== 201) {
      pc.close();
      if (r.status === 401) return 'Your studio link has expired or is not an instructor link: open the class again from the LMS.';
      if (r.status === 409) return `This class is already live from somewhere else (OBS or another browser): ${body.trim()}`;
      if (r.status === 404) return body.includes('webrtc') ? 'Going live from the browser is turned off on this server (webrtc.enabled); use OBS.' : 'This channel does not exist any more.';
      return `The server refused the class: ${body.trim() || r.status}`;
    }
    this.resource = r.headers.get('location') ?? undefined;
    await pc.setRemoteDescription({ type: 'answer', sdp: body });
    try {
      const params = videoSender.getParameters();
      params.degradationPreference = 'maintain-resolution';
      await videoSender.setParameters(params);
    } catch {
      // an older browser: it may lower the resolution on a slow link
    }
    if (!(await connected(pc, CONNECT_MS))) {
      pc.close();
      void this.deleteResource();
      return 'Your network blocks the connection to the server (WebRTC uses UDP). Ask IT to open the server\'s WebRTC ports or to set up a TURN server (docs/webrtc.md), or use OBS.';
    }
    this.pc = pc;
    pc.addEventListener('connectionstatechange', () => {
      if (this.pc === pc && (pc.connectionState === 'failed' || pc.connectionState === 'disconnected')) void this.reconnect(pc);
    });
    return undefined;
  }

  /** The connection dropped: publish again (within the server's grace the class continues). */
  private async reconnect(old: RTCPeerConnection): Promise<void> {
    if (this.ending || !this.live) return;
    await new Promise((r) => setTimeout(r, 2000));
    if (this.pc !== old || old.connectionState === 'connected' || this.ending) return;
    old.close();
    this.pc = undefined;
    this.retries += 1;
    this.say(`Connection lost — reconnecting (attempt ${this.retries})…`, 'error');
    const failure = await this.connect();
    if (!failure) {
      this.say('Reconnected: the class goes on.');
      return;
    }
    if (this.retries < 5) {
      this.pc = old; // lets the next attempt run
      void this.reconnect(old);
    } else {
      this.live = false;
      this.say(`${failure} The class ends if you do not come back within a minute.`, 'error');
      this.liveBtn.hidden = false;
      this.liveBtn.disabled = false;
    }
  }

  private async deleteResource(): Promise<void> {
    if (!this.resource) return;
    const url = this.resource;
    this.resource = undefined;
    await fetch(url, { method: 'DELETE', headers: { Authorization: `Bearer ${this.token}` } }).catch(() => undefined);
  }

  private async end(): Promise<void> {
    if (!confirm('End the class for everyone?')) return;
    this.ending = true;
    this.live = false;
    this.endBtn.disabled = true;
    await this.deleteResource();
    this.pc?.close();
    this.pc = undefined;
    this.liveBtn.hidden = false;
    this.liveBtn.disabled = false;
    this.say('The class has ended. The camera stays on: “Go live” starts a new class.');
  }
}
