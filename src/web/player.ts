// The video player: hls.js (bundled) or native HLS on Safari, with icon controls that have accessible labels:
// play/pause, mute + volume, quality (auto + rungs), captions when the stream has them, picture-in-picture, full
// screen, and keyboard shortcuts. Live streams get a live-edge button and the delay; replays get a seek bar, the
// time and duration, and a playback speed. Reports quality-of-experience numbers for the beacon.

import Hls from 'hls.js';
import { h } from './dom.js';
import { catchUp } from './catch-up.js';
import type { BeaconQoe } from '../domain/wire.js';
import { rungCap } from '../domain/rung-choice.js';

const SVG = 'http://www.w3.org/2000/svg';
const ICONS: Record<string, string> = {
  play: 'M8 5v14l11-7z',
  pause: 'M6 5h4v14H6zm8 0h4v14h-4z',
  volume: 'M4 9v6h4l5 5V4L8 9zm12.5 3A4.5 4.5 0 0 0 14 8v8a4.5 4.5 0 0 0 2.5-4z',
  muted: 'M4 9v6h4l5 5V4L8 9zm15.6 3 2.1-2.1-1.4-1.4-2.1 2.1-2.1-2.1-1.4 1.4 2.1 2.1-2.1 2.1 1.4 1.4 2.1-2.1 2.1 2.1 1.4-1.4z',
  full: 'M5 5h5v2H7v3H5zm9 0h5v5h-2V7h-3zM5 14h2v3h3v2H5zm12 3v-3h2v5h-5v-2z',
  pip: 'M3 5h18v14H3zm2 2v10h14V7zm6 5h7v4h-7z',
  cc: 'M4 5h16v14H4zm2 2v10h12V7zm1.5 3h3v1.2h-1.8v1.6h1.8V14h-3zm5 0h3v1.2h-1.8v1.6h1.8V14h-3z',
};

function icon(name: string): SVGSVGElement {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  const path = document.createElementNS(SVG, 'path');
  path.setAttribute('d', ICONS[name] ?? '');
  path.setAttribute('fill', 'currentColor');
  svg.append(path);
  return svg;
}

/** 75 → "1:15", 3725 → "1:02:05". */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.floor(Number.isFinite(seconds) ? seconds : 0));
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return hh ? `${hh}:${String(mm).padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

const SPEEDS = [1, 1.25, 1.5, 1.75, 2];
const CC_KEY = 'kmk-captions';

function remembered(): boolean {
  try {
    return localStorage.getItem(CC_KEY) === 'on';
  } catch {
    return false;
  }
}

/** What the player measures for the beacon (the wire shape is the server's, src/domain/wire.ts). */
export type Qoe = BeaconQoe;

export class Player {
  readonly el: HTMLElement;
  readonly video: HTMLVideoElement;
  private hls?: Hls;
  private lowLatency = false;
  /** Data saver: the lowest video rung only (the browser's Save-Data, or chosen in the quality menu). */
  private saver = (navigator as { connection?: { saveData?: boolean } }).connection?.saveData === true;
  private sizer?: ResizeObserver;
  private jumpedAt = -Infinity;
  private readonly quality: HTMLSelectElement;
  private readonly latency: HTMLElement;
  private readonly liveBtn: HTMLButtonElement;
  private readonly playBtn: HTMLButtonElement;
  private readonly muteBtn: HTMLButtonElement;
  private readonly volume: HTMLInputElement;
  private readonly seek: HTMLInputElement;
  private readonly time: HTMLElement;
  private readonly speed: HTMLSelectElement;
  private readonly ccBtn: HTMLButtonElement;
  private readonly pipBtn: HTMLButtonElement;
  private live = true;
  private seeking = false;
  private loadStarted = 0;
  private startup: number | null = null;
  private rebuffers = 0;
  private rebufferMs = 0;
  private waitingSince = 0;
  private playedMs = 0;
  private lastTime = -1;
  private errors: string[] = [];
  private retry?: number;
  private url = '';
  /** The master playlist the page gave; `url` is the audio-only playlist while listening. */
  private masterUrl = '';
  /** The audio-only variant's playlist (with its token), read from the master: hls.js keeps no audio-only level
   * beside video ones, so "Audio only" loads that playlist itself. */
  private audioOnlyUrl?: string;
  private listening = false;
  /** Caption lines from the hub while live (one track per language), placed on the picture they belong to. */
  private readonly liveTracks = new Map<string, TextTrack>();
  /** Captions on: remembered across classes (a learner who needs them turns them on once). */
  private ccOn = remembered();

  constructor(opts: { muted?: boolean } = {}) {
    this.video = h('video', { playsinline: true, muted: opts.muted ?? false, 'aria-label': 'class video' });
    this.video.muted = opts.muted ?? false;
    const btn = (cls: string, label: string, name: string, onclick: () => void): HTMLButtonElement => {
      const b = h('button', { type: 'button', class: `icon ${cls}`, 'aria-label': label, title: label, onclick }, icon(name));
      return b;
    };
    this.playBtn = btn('play', 'Play (k)', 'play', () => this.toggle());
    this.muteBtn = btn('mute', 'Mute (m)', 'volume', () => this.setMuted(!this.video.muted));
    this.volume = h('input', { type: 'range', class: 'volume', min: 0, max: 1, step: 0.05, value: 1, 'aria-label': 'Volume', oninput: () => {
      this.video.volume = Number(this.volume.value);
      this.setMuted(this.video.volume === 0);
    } });
    this.seek = h('input', { type: 'range', class: 'seek', min: 0, max: 0, step: 0.1, value: 0, 'aria-label': 'Seek', hidden: true,
      oninput: () => { this.seeking = true; this.time.textContent = `${clock(Number(this.seek.value))} / ${clock(this.video.duration)}`; },
      onchange: () => { this.video.currentTime = Number(this.seek.value); this.seeking = false; } });
    this.time = h('span', { class: 'time', 'aria-live': 'off' }, '');
    this.speed = h('select', { class: 'speed', 'aria-label': 'Playback speed', hidden: true, onchange: () => { this.video.playbackRate = Number(this.speed.value); } },
      ...SPEEDS.map((v) => h('option', { value: String(v) }, `${v}×`)));
    this.quality = h('select', { 'aria-label': 'Quality', class: 'quality', onchange: () => this.setQuality() }, h('option', { value: '-1' }, 'Auto'));
    this.latency = h('span', { class: 'latency', title: 'delay behind the instructor' }, '');
    this.liveBtn = h('button', { type: 'button', class: 'live-edge', 'aria-label': 'Go to the live edge (l)', title: 'Go to the live edge (l)', onclick: () => this.goLive() }, 'LIVE');
    this.ccBtn = btn('cc', 'Captions (c)', 'cc', () => this.toggleCaptions());
    this.ccBtn.hidden = true;
    this.pipBtn = btn('pip', 'Picture in picture (p)', 'pip', () => void this.pip());
    this.pipBtn.hidden = !('pictureInPictureEnabled' in document && document.pictureInPictureEnabled);
    const full = btn('full', 'Full screen (f)', 'full', () => this.fullscreen());
    this.el = h('div', { class: 'player', tabindex: 0, onkeydown: (e: Event) => this.key(e as KeyboardEvent) },
      this.video,
      h('div', { class: 'controls' }, this.seek,
        h('div', { class: 'bar' }, this.playBtn, this.muteBtn, this.volume, this.liveBtn, this.time, this.latency,
          h('span', { class: 'spacer' }), this.speed, this.quality, this.ccBtn, this.pipBtn, full)));
    this.video.addEventListener('play', () => this.showPlaying());
    this.video.addEventListener('pause', () => this.showPlaying());
    this.video.addEventListener('volumechange', () => this.showMuted());
    this.video.addEventListener('durationchange', () => this.detectMode());
    this.video.addEventListener('playing', () => {
      if (this.startup === null && this.loadStarted) this.startup = Math.round(performance.now() - this.loadStarted);
      if (this.waitingSince) this.rebufferMs += performance.now() - this.waitingSince;
      this.waitingSince = 0;
    });
    this.video.addEventListener('waiting', () => {
      if (this.startup !== null) {
        this.rebuffers += 1;
        this.waitingSince = performance.now();
      }
    });
    // Watch time: media time that advanced while playing (a seek or a jump to the live edge is not watching).
    this.video.addEventListener('timeupdate', () => {
      const t = this.video.currentTime;
      if (this.lastTime >= 0 && !this.video.paused && t > this.lastTime && t - this.lastTime < 2) this.playedMs += (t - this.lastTime) * 1000 / (this.video.playbackRate || 1);
      this.lastTime = t;
      this.showTime();
    });
    this.video.addEventListener('seeking', () => { this.lastTime = -1; });
    this.video.textTracks.addEventListener('addtrack', () => this.showCaptions());
    setInterval(() => this.showLatency(), 1000);
    setInterval(() => this.keepUp(), 500);
    this.setMode(true);
    this.el.classList.add('idle');
  }

  /** True while the loaded stream is live (false for a replay). */
  get isLive(): boolean {
    return this.live;
  }

  /** `lowLatency`: an LL-HLS stream (latency 'ultra'): hls.js low-latency mode and our live-edge catch-up. */
  load(url: string, opts: { lowLatency?: boolean } = {}): void {
    this.masterUrl = url;
    this.audioOnlyUrl = undefined;
    this.listening = false;
    this.open(url, opts);
  }

  /** Plays the master playlist or (listening) the audio-only one; `at`: a replay's position to start from. */
  private open(url: string, opts: { lowLatency?: boolean; at?: number; level?: string } = {}): void {
    this.stop();
    this.el.classList.toggle('listening', this.listening);
    // No picture to float while listening.
    this.pipBtn.hidden = this.listening || !('pictureInPictureEnabled' in document && document.pictureInPictureEnabled);
    this.lowLatency = opts.lowLatency === true;
    this.el.dataset.lowLatency = this.lowLatency ? 'on' : 'off';
    this.el.classList.remove('idle');
    this.url = url;
    this.loadStarted = performance.now();
    this.startup = null;
    if (Hls.isSupported()) {
      // Low latency: the target is the playlist's PART-HOLD-BACK (so no liveSyncDurationCount), and the catch-up
      // is ours (hls.js only speeds up with more than 1 s buffered, which an LL player rarely has).
      const start = opts.at !== undefined ? { startPosition: opts.at } : {};
      const hls = this.lowLatency
        ? new Hls({ enableWorker: true, lowLatencyMode: true, maxLiveSyncPlaybackRate: 1, backBufferLength: 30, liveSyncOnStallIncrease: 0.25, autoStartLoad: false })
        : new Hls({ liveSyncDurationCount: 3, enableWorker: true, lowLatencyMode: false, autoStartLoad: false, ...start });
      // Subtitle renditions are shown only when captions are on, and while live the hub's lines are (they come
      // at once; the stream's WebVTT comes seconds later, for other players and the replay).
      hls.subtitleDisplay = false;
      this.hls = hls;
      hls.on(Hls.Events.MANIFEST_LOADED, (_e, data) => {
        if (this.listening) return;
        // The audio-only variant: audio codec, no video codec, no size (hls.js drops it from its levels).
        const listen = data.levels.find((l) => !l.videoCodec && !l.width && !!l.audioCodec);
        this.audioOnlyUrl = listen?.url;
        // hls.js parses (and we fill the menu) inside its own MANIFEST_LOADED handler, before this one runs.
        this.offerListening();
      });
      hls.on(Hls.Events.MANIFEST_PARSED, () => {
        if (!this.listening) {
          this.fillQualities();
          // Fetch only what the player shows: capped to its box, starting on a middle rung, not the top one.
          this.capToSize(true);
          if (opts.level !== undefined && opts.level !== 'saver' && Number(opts.level) >= 0) {
            hls.currentLevel = Number(opts.level);
            this.quality.value = opts.level;
          }
        }
        hls.startLoad(opts.at ?? -1);
        void this.video.play().catch(() => { this.video.muted = true; return this.video.play(); }).catch(() => {});
      });
      // A live playlist has no end: that decides between live controls and a seek bar.
      hls.on(Hls.Events.LEVEL_LOADED, (_e, data) => this.setMode(data.details.live));
      hls.on(Hls.Events.SUBTITLE_TRACKS_UPDATED, () => {
        this.showCaptions();
        this.applyCaptions();
      });
      hls.on(Hls.Events.ERROR, (_e, data) => {
        this.errors.push(`${data.type}:${data.details}`.slice(0, 100));
        if (this.errors.length > 20) this.errors.shift();
        if (data.fatal) {
          // The master playlist appears a few seconds after the class starts: keep trying.
          window.clearTimeout(this.retry);
          const again = { lowLatency: this.lowLatency };
          this.retry = window.setTimeout(() => this.url && this.open(this.url, again), 2000);
        }
      });
      hls.loadSource(url);
      hls.attachMedia(this.video);
    } else if (this.video.canPlayType('application/vnd.apple.mpegurl')) {
      this.video.src = url; // Safari: native HLS
      void this.video.play().catch(() => {});
    }
  }

  /** Unloads the stream; the controls hide until the next load (nothing to control). */
  stop(): void {
    window.clearTimeout(this.retry);
    this.hls?.destroy();
    this.hls = undefined;
    this.video.removeAttribute('src');
    this.el.classList.add('idle');
  }

  /** Levels as "720p" etc. ("audio" while listening to the audio-only rendition), for tests and the menu. */
  levels(): string[] {
    return (this.hls?.levels ?? []).map((l) => (this.listening ? 'audio' : `${l.height}p`));
  }

  qoe(): Qoe {
    const level = this.hls && this.hls.currentLevel >= 0 ? this.hls.levels[this.hls.currentLevel] : undefined;
    const errors = this.errors;
    this.errors = [];
    const playedMs = Math.round(this.playedMs);
    this.playedMs = 0;
    return {
      startupMs: this.startup, rebuffers: this.rebuffers, rebufferMs: Math.round(this.rebufferMs), playedMs,
      bitrate: level?.bitrate ?? null, rendition: this.listening ? 'audio' : level ? `${level.height}p` : null,
      latencyMs: this.hls && Number.isFinite(this.hls.latency) ? Math.round(this.hls.latency * 1000) : null, errors,
    };
  }

  /** Called on every playlist load (several a second with LL-HLS): only a change of mode touches the speed. */
  private setMode(live: boolean): void {
    const changed = live !== this.live;
    this.live = live;
    this.el.classList.toggle('is-live', live);
    this.el.classList.toggle('is-replay', !live);
    this.liveBtn.hidden = !live;
    this.latency.hidden = !live;
    this.seek.hidden = live;
    this.speed.hidden = live;
    if (live && changed) {
      this.video.playbackRate = 1;
      this.speed.value = '1';
    }
    if (changed) this.applyCaptions();
    this.showTime();
  }

  /** Native HLS (Safari): a live stream has an infinite duration. */
  private detectMode(): void {
    if (!this.hls) this.setMode(!Number.isFinite(this.video.duration));
    this.showTime();
  }

  private showTime(): void {
    if (this.live) {
      this.time.textContent = '';
      return;
    }
    const d = this.video.duration;
    if (!this.seeking) {
      this.seek.max = String(Number.isFinite(d) ? d : 0);
      this.seek.value = String(this.video.currentTime);
      this.time.textContent = `${clock(this.video.currentTime)} / ${clock(d)}`;
    }
  }

  private showPlaying(): void {
    const playing = !this.video.paused;
    this.playBtn.replaceChildren(icon(playing ? 'pause' : 'play'));
    const label = playing ? 'Pause (k)' : 'Play (k)';
    this.playBtn.setAttribute('aria-label', label);
    this.playBtn.title = label;
  }

  private setMuted(muted: boolean): void {
    this.video.muted = muted;
    if (!muted && this.video.volume === 0) this.video.volume = 0.5;
  }

  private showMuted(): void {
    const muted = this.video.muted || this.video.volume === 0;
    this.muteBtn.replaceChildren(icon(muted ? 'muted' : 'volume'));
    const label = muted ? 'Unmute (m)' : 'Mute (m)';
    this.muteBtn.setAttribute('aria-label', label);
    this.muteBtn.title = label;
    this.volume.value = String(muted ? 0 : this.video.volume);
  }

  private showCaptions(): void {
    const hlsTracks = this.hls?.subtitleTracks.length ?? 0;
    const native = [...this.video.textTracks].filter((t) => t.kind === 'captions' || t.kind === 'subtitles').length;
    this.ccBtn.hidden = hlsTracks + native === 0;
  }

  private toggleCaptions(): void {
    if (this.ccBtn.hidden) return;
    this.ccOn = !this.ccOn;
    try {
      localStorage.setItem(CC_KEY, this.ccOn ? 'on' : 'off');
    } catch {
      // storage blocked (a strict iframe): on for this page only
    }
    this.applyCaptions();
  }

  /** Shows one caption source: the hub's lines while live (when the class sends them), else the stream's own. */
  private applyCaptions(): void {
    const on = this.ccOn && !this.ccBtn.hidden;
    this.ccBtn.setAttribute('aria-pressed', String(on));
    const hubLines = this.live && this.liveTracks.size > 0;
    if (this.hls && this.hls.subtitleTracks.length) {
      this.hls.subtitleDisplay = on && !hubLines;
      this.hls.subtitleTrack = on && !hubLines ? 0 : -1;
    }
    const own = new Set(this.liveTracks.values());
    const first = this.liveTracks.values().next().value;
    for (const t of own) t.mode = on && hubLines && t === first ? 'showing' : 'hidden';
    // The stream's own tracks (hls.js's WebVTT or in-band captions, Safari's native ones): one shows, the one
    // hls.js selected or else the first.
    const stream = [...this.video.textTracks].filter((t) => (t.kind === 'captions' || t.kind === 'subtitles') && !own.has(t));
    const chosen = stream.find((t) => t.label === this.hls?.subtitleTracks[0]?.name) ?? stream[0];
    for (const t of stream) t.mode = on && !hubLines && t === chosen ? 'showing' : 'disabled';
  }

  /** A caption line from the hub: placed at the media time of its program time, or now when that has passed. */
  liveCaption(cue: { id: string; start: number; end: number; text: string; lang: string }, label: string): void {
    let track = this.liveTracks.get(cue.lang);
    if (!track) {
      track = this.video.addTextTrack('captions', label, cue.lang);
      track.mode = 'hidden';
      this.liveTracks.set(cue.lang, track);
      this.showCaptions();
      this.applyCaptions();
    }
    if (track.cues?.getCueById(cue.id)) return;
    const now = this.video.currentTime;
    const playing = this.hls?.playingDate?.getTime();
    const at = playing !== undefined && Number.isFinite(playing) ? now + (cue.start - playing) / 1000 : now;
    const start = Math.max(at, now);
    const end = Math.max(start + 1.5, at + (cue.end - cue.start) / 1000);
    const vtt = new VTTCue(start, end, cue.text);
    vtt.id = cue.id;
    track.addCue(vtt);
  }

  /** What the player shows as the program time (epoch ms), for a captioner's line; undefined before it plays. */
  programTime(): number | undefined {
    const t = this.hls?.playingDate?.getTime();
    return t !== undefined && Number.isFinite(t) ? t : undefined;
  }

  private async pip(): Promise<void> {
    try {
      if (document.pictureInPictureElement) await document.exitPictureInPicture();
      else await this.video.requestPictureInPicture();
    } catch {
      // not allowed here (e.g. no video yet): nothing to do
    }
  }

  private fillQualities(): void {
    const levels = this.hls?.levels ?? [];
    while (this.quality.options.length > 1) this.quality.remove(1);
    // Highest first, as people read a quality menu; the value is hls.js's level index.
    levels.map((l, i) => ({ l, i })).sort((a, b) => b.l.height - a.l.height)
      .forEach(({ l, i }) => this.quality.add(h('option', { value: String(i) }, `${l.height}p`)));
    // The lowest rung only: for a metered or slow connection (chosen for the learner when the browser sends Save-Data).
    if (levels.length > 1) this.quality.add(h('option', { value: 'saver' }, 'Data saver'));
    if (this.saver && levels.length > 1) this.quality.value = 'saver';
    this.offerListening();
  }

  /** Sound without the picture, last in the menu: the least a learner can fetch and still follow the class. */
  private offerListening(): void {
    const has = [...this.quality.options].some((o) => o.value === 'audio');
    if (this.audioOnlyUrl && !has && this.quality.options.length > 1) this.quality.add(h('option', { value: 'audio' }, 'Audio only'));
  }

  private setQuality(): void {
    if (!this.hls) return;
    const value = this.quality.value;
    const at = this.live ? undefined : this.video.currentTime;
    if (value === 'audio' || this.listening) {
      // To or from the audio-only playlist: another source, from the same position of a replay.
      this.listening = value === 'audio';
      this.saver = value === 'saver';
      const url = this.listening ? this.audioOnlyUrl : this.masterUrl;
      if (url) this.open(url, { lowLatency: this.lowLatency, ...(at !== undefined ? { at } : {}), level: value });
      return;
    }
    this.saver = value === 'saver';
    this.hls.currentLevel = this.saver ? -1 : Number(value);
    this.capToSize(false);
  }

  /** The largest rung worth fetching for the player's box (the lowest one in data-saver mode); with `start`, the
   * rung to begin on: the middle of those, so the first segments are neither the biggest nor the worst (LL-HLS: the cap). */
  private capToSize(start: boolean): void {
    const hls = this.hls;
    if (!hls || hls.levels.length === 0 || this.listening) return;
    const bySize = hls.levels.map((l, i) => ({ w: l.width || 0, i })).sort((a, b) => a.w - b.w);
    const cap = this.saver ? bySize[0]!.i : rungCap(hls.levels.map((l) => ({ width: l.width || 0, height: l.height || 0 })),
      { width: this.video.clientWidth || this.el.clientWidth, dpr: window.devicePixelRatio || 1 });
    hls.autoLevelCapping = cap;
    this.el.dataset.cap = `${hls.levels[cap]?.height ?? 0}p`;
    if (start) {
      // A Low-Latency stream starts on its cap: a rung switch in its first seconds, with a part of buffer, stalls.
      const allowed = bySize.filter((x) => x.w <= (hls.levels[cap]?.width ?? 0));
      hls.startLevel = this.lowLatency ? cap : (allowed[Math.floor((allowed.length - 1) / 2)] ?? bySize[0]!).i;
    }
    if (!this.sizer) {
      this.sizer = new ResizeObserver(() => this.capToSize(false));
      this.sizer.observe(this.el);
    }
  }

  private goLive(): void {
    const pos = this.hls?.liveSyncPosition;
    if (pos) this.video.currentTime = pos;
    void this.video.play().catch(() => {});
  }

  private toggle(): void {
    if (this.video.paused) void this.video.play().catch(() => {});
    else this.video.pause();
  }

  private fullscreen(): void {
    if (document.fullscreenElement) void document.exitFullscreen();
    else void this.el.requestFullscreen?.().catch(() => {});
  }

  private key(e: KeyboardEvent): void {
    const tag = (e.target as HTMLElement).tagName;
    if (tag === 'SELECT' || tag === 'INPUT') return;
    const v = this.video;
    if (e.key === ' ' || e.key === 'k') this.toggle();
    else if (e.key === 'f') this.fullscreen();
    else if (e.key === 'm') this.setMuted(!v.muted);
    else if (e.key === 'l' && this.live) this.goLive();
    else if (e.key === 'c') this.toggleCaptions();
    else if (e.key === 'p') void this.pip();
    else if (e.key === 'ArrowUp') { v.volume = Math.min(1, v.volume + 0.1); v.muted = false; }
    else if (e.key === 'ArrowDown') v.volume = Math.max(0, v.volume - 0.1);
    else if (e.key === 'ArrowLeft' && !this.live) v.currentTime = Math.max(0, v.currentTime - 5);
    else if (e.key === 'ArrowRight' && !this.live) v.currentTime = Math.min(v.duration || 0, v.currentTime + 5);
    else return;
    e.preventDefault();
  }

  /** The live-edge catch-up of LL-HLS streams (see catch-up.ts). */
  private keepUp(): void {
    const hls = this.hls;
    const v = this.video;
    if (!this.lowLatency || !this.live || !hls || v.paused) return;
    const latency = hls.latency;
    // The playlist's PART-HOLD-BACK (hls.js's own target grows by a step after every stall).
    const details = hls.levels[hls.currentLevel]?.details;
    const target = details?.partHoldBack || hls.targetLatency;
    if (!Number.isFinite(latency) || target === null || !Number.isFinite(target)) return;
    const end = v.buffered.length ? v.buffered.end(v.buffered.length - 1) : v.currentTime;
    const step = catchUp({ latency, target, buffered: end - v.currentTime, rate: v.playbackRate, sinceJumpMs: performance.now() - this.jumpedAt });
    if (step.kind === 'rate') v.playbackRate = step.rate;
    else if (step.kind === 'jump') {
      this.jumpedAt = performance.now();
      v.currentTime += step.by;
    }
    else if (step.kind === 'live') this.goLive();
  }

  private showLatency(): void {
    const l = this.hls?.latency;
    this.latency.textContent = this.live && l && Number.isFinite(l) ? `${l.toFixed(1)} s behind` : '';
    // For tests and support: the measured delay and whether low-latency mode is on.
    this.el.dataset.latency = this.live && l && Number.isFinite(l) ? l.toFixed(3) : '';
    this.el.dataset.lowLatency = this.lowLatency ? 'on' : 'off';
  }
}
