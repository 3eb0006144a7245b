// The video player: hls.js (bundled) or native HLS on Safari, a quality menu, a live-edge button, the current
// latency, fullscreen and keyboard control. Reports quality-of-experience numbers for the beacon.

import Hls from 'hls.js';
import { h } from './dom.js';

export interface Qoe {
  startupMs: number | null;
  rebuffers: number;
  rebufferMs: number;
  /** Video played since the previous report (watch time, per rendition in the class report). */
  playedMs: number;
  bitrate: number | null;
  rendition: string | null;
  latencyMs: number | null;
  errors: string[];
}

export class Player {
  readonly el: HTMLElement;
  readonly video: HTMLVideoElement;
  private hls?: Hls;
  private readonly quality: HTMLSelectElement;
  private readonly latency: HTMLElement;
  private readonly liveBtn: HTMLButtonElement;
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

  constructor(opts: { muted?: boolean } = {}) {
    this.video = h('video', { playsinline: true, muted: opts.muted ?? false, 'aria-label': 'class video' });
    this.video.muted = opts.muted ?? false;
    this.quality = h('select', { 'aria-label': 'quality', class: 'quality', onchange: () => this.setQuality() }, h('option', { value: '-1' }, 'Auto'));
    this.latency = h('span', { class: 'latency', title: 'delay behind the instructor' }, '');
    this.liveBtn = h('button', { type: 'button', class: 'golive', onclick: () => this.goLive() }, 'Go live');
    const play = h('button', { type: 'button', class: 'play', 'aria-label': 'play or pause', onclick: () => this.toggle() }, 'Play/Pause');
    const mute = h('button', { type: 'button', 'aria-label': 'mute or unmute', onclick: () => { this.video.muted = !this.video.muted; } }, 'Mute');
    const full = h('button', { type: 'button', 'aria-label': 'fullscreen', onclick: () => this.fullscreen() }, 'Full screen');
    this.el = h('div', { class: 'player', tabindex: 0, onkeydown: (e: Event) => this.key(e as KeyboardEvent) },
      this.video, h('div', { class: 'controls' }, play, mute, this.liveBtn, this.latency, this.quality, full));
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
    });
    this.video.addEventListener('seeking', () => { this.lastTime = -1; });
    setInterval(() => this.showLatency(), 1000);
  }

  load(url: string): void {
    this.stop();
    this.url = url;
    this.loadStarted = performance.now();
    this.startup = null;
    if (Hls.isSupported()) {
      const hls = new Hls({ liveSyncDurationCount: 3, enableWorker: true, lowLatencyMode: false });
      this.hls = hls;
      hls.on(Hls.Events.MANIFEST_PARSED, () => {
        this.fillQualities();
        void this.video.play().catch(() => { this.video.muted = true; return this.video.play(); }).catch(() => {});
      });
      hls.on(Hls.Events.ERROR, (_e, data) => {
        this.errors.push(`${data.type}:${data.details}`.slice(0, 100));
        if (this.errors.length > 20) this.errors.shift();
        if (data.fatal) {
          // The master playlist appears a few seconds after the class starts: keep trying.
          window.clearTimeout(this.retry);
          this.retry = window.setTimeout(() => this.url && this.load(this.url), 2000);
        }
      });
      hls.loadSource(url);
      hls.attachMedia(this.video);
    } else if (this.video.canPlayType('application/vnd.apple.mpegurl')) {
      this.video.src = url; // Safari: native HLS
      void this.video.play().catch(() => {});
    }
  }

  stop(): void {
    window.clearTimeout(this.retry);
    this.hls?.destroy();
    this.hls = undefined;
    this.video.removeAttribute('src');
  }

  /** Levels as "720p" etc., for tests and the menu. */
  levels(): string[] {
    return (this.hls?.levels ?? []).map((l) => `${l.height}p`);
  }

  qoe(): Qoe {
    const level = this.hls && this.hls.currentLevel >= 0 ? this.hls.levels[this.hls.currentLevel] : undefined;
    const errors = this.errors;
    this.errors = [];
    const playedMs = Math.round(this.playedMs);
    this.playedMs = 0;
    return {
      startupMs: this.startup, rebuffers: this.rebuffers, rebufferMs: Math.round(this.rebufferMs), playedMs,
      bitrate: level?.bitrate ?? null, rendition: level ? `${level.height}p` : null,
      latencyMs: this.hls && Number.isFinite(this.hls.latency) ? Math.round(this.hls.latency * 1000) : null, errors,
    };
  }

  private fillQualities(): void {
    const levels = this.hls?.levels ?? [];
    while (this.quality.options.length > 1) this.quality.remove(1);
    // Highest first, as people read a quality menu; the value is hls.js's level index.
    levels.map((l, i) => ({ l, i })).sort((a, b) => b.l.height - a.l.height)
      .forEach(({ l, i }) => this.quality.add(h('option', { value: String(i) }, `${l.height}p`)));
  }

  private setQuality(): void {
    if (this.hls) this.hls.currentLevel = Number(this.quality.value);
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
    if ((e.target as HTMLElement).tagName === 'SELECT') return;
    if (e.key === ' ' || e.key === 'k') this.toggle();
    else if (e.key === 'f') this.fullscreen();
    else if (e.key === 'm') this.video.muted = !this.video.muted;
    else if (e.key === 'l') this.goLive();
    else return;
    e.preventDefault();
  }

  private showLatency(): void {
    const l = this.hls?.latency;
    this.latency.textContent = l && Number.isFinite(l) ? `${l.toFixed(1)} s behind` : '';
  }
}
