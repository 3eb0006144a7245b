// The stage on a page (issue 27): who is on stage, their pictures and voices over WebRTC, and the controls each one
// has. A learner sees an invitation with its countdown, joins with the microphone (camera optional), mutes
// themselves or leaves. Staff (the studio) invite from raised hands and participants, mute or remove members, and
// step up themselves. The server decides who may publish: this page only asks.

import { h } from './dom.js';
import { connected, gathered } from './rtc.js';
import type { ClientMsg, ServerMsg, RoomEvent } from '../domain/wire.js';
import type { StageInvite, StageMember } from '../domain/engagement.js';

interface SlotView { audioMid: string; videoMid: string; userId: string; name: string; muted: boolean }

export interface StageOptions {
  channel: string;
  /** The join token (the stage endpoint takes it as a bearer). */
  token: () => string | null;
  send(msg: ClientMsg): void;
  staff: boolean;
}

const MEDIA_WAIT_MS = 10_000;

/** "Learner A" → "LA": what an audio-only tile shows. */
const initials = (name: string): string => name.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0]!.toUpperCase()).join('') || '?';

export class StageView {
  readonly el = h('section', { class: 'stage-area', 'aria-label': 'stage', hidden: true });
  private readonly list = h('ul', { class: 'stage-members' });
  private readonly tiles = h('div', { class: 'stage-tiles' });
  private readonly say = h('p', { class: 'stage-note', role: 'status' });
  private readonly prompt = h('div', { class: 'stage-invite', role: 'alertdialog', 'aria-label': 'invitation to the stage', hidden: true });
  private readonly pending = h('ul', { class: 'stage-pending' });
  private readonly pendingTitle = h('h3', {}, 'Invited');
  private readonly controls = h('div', { class: 'stage-controls' });
  private members: StageMember[] = [];
  private invites: StageInvite[] = [];
  private me = '';
  private pc?: RTCPeerConnection;
  private local?: MediaStream;
  private resource?: string;
  private countdown?: ReturnType<typeof setInterval>;
  private slots: SlotView[] = [];
  private readonly streams = new Map<string, MediaStream>();
  private selfMuted = false;
  /** Receive slots to offer: one for each other member the stage can hold. */
  private slotCount = 5;
  private live = false;
  /** The studio's "my voice is in the broadcast already" (the instructor who publishes). */
  private readonly hostBox = h('input', { type: 'checkbox', id: 'stage-host', checked: true });

  constructor(private readonly o: StageOptions) {
    this.el.append(h('h2', {}, 'On stage'), this.prompt, this.list, this.tiles, this.controls, ...(o.staff ? [this.pendingTitle, this.pending] : []), this.say);
    if (o.staff) this.el.hidden = false;
    this.render();
  }

  /** The broadcast shows stage members as tiles (the server's stage.picture). */
  private picture = false;

  welcome(m: Extract<ServerMsg, { t: 'welcome' }>): void {
    this.me = m.you.userId;
    this.members = m.room.stage ?? [];
    this.invites = m.room.stageInvites ?? [];
    this.live = m.room.class.state === 'live' || m.room.class.state === 'reconnecting';
    this.slotCount = Math.max(1, (m.room.stageMax ?? 6) - 1);
    this.picture = m.room.stagePicture === true;
    this.render();
  }

  event(e: RoomEvent): void {
    if (e.t === 'stage') {
      const wasOn = this.onStage;
      this.members = e.members;
      if (wasOn && !this.onStage) void this.hangUp('You are off the stage.');
      this.render();
    } else if (e.t === 'stage_invites') {
      this.invites = e.pending;
      this.render();
    } else if (e.t === 'class') {
      this.live = e.state === 'live' || e.state === 'reconnecting';
      if (!this.live) void this.hangUp('');
      this.render();
    }
  }

  direct(m: ServerMsg): void {
    if (m.t === 'stage_invited') this.invited(m.by, m.expiresAt);
    else if (m.t === 'stage_removed') {
      this.closePrompt();
      void this.hangUp(m.reason === 'removed' ? 'The instructor took you off the stage.' : m.reason === 'expired' ? 'The invitation to the stage expired.' : '');
    }
  }

  /** Staff: the button that invites a learner on stage (raised hands, participants). */
  inviteButton(userId: string, name: string): HTMLElement {
    return h('button', { type: 'button', class: 'invite-stage', onclick: () => this.o.send({ t: 'stage_invite', userId }), 'aria-label': `invite ${name} on stage` }, 'Invite on stage');
  }

  private get onStage(): boolean {
    return this.members.some((m) => m.userId === this.me);
  }

  private invited(by: string, expiresAt: number): void {
    this.el.hidden = false;
    const left = h('span', { class: 'left' });
    const tick = (): void => {
      const s = Math.max(0, Math.round((expiresAt - Date.now()) / 1000));
      left.textContent = `${s} s left to answer`;
      if (s === 0) this.closePrompt();
    };
    const join = (video: boolean): void => {
      this.closePrompt();
      this.o.send({ t: 'stage_accept' });
      void this.connect(video, false);
    };
    this.prompt.replaceChildren(
      h('p', {}, `${by} invites you on stage: the whole class will hear you${this.picture
        ? ' and see you in a small picture over the lesson (your camera, or your name without it).'
        : ' (with the camera, the others on stage also see you).'}`), left,
      h('div', { class: 'row' },
        h('button', { type: 'button', class: 'primary', onclick: () => join(false) }, 'Join with microphone'),
        h('button', { type: 'button', onclick: () => join(true) }, 'Join with camera and microphone'),
        h('button', { type: 'button', onclick: () => { this.closePrompt(); this.o.send({ t: 'stage_decline' }); } }, 'No thanks')));
    this.prompt.hidden = false;
    tick();
    clearInterval(this.countdown);
    this.countdown = setInterval(tick, 1000);
    (this.prompt.querySelector('button.primary') as HTMLButtonElement | null)?.focus();
  }

  private closePrompt(): void {
    clearInterval(this.countdown);
    this.prompt.hidden = true;
    this.prompt.replaceChildren();
    this.render();
  }

  /** Staff step up; learners come here after accepting an invitation. */
  async connect(video: boolean, host: boolean): Promise<void> {
    if (this.pc) return;
    this.say.textContent = 'Asking for your microphone…';
    try {
      this.local = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true }, video: video ? { width: 640, height: 360 } : false });
    } catch (err) {
      this.say.textContent = `The browser did not give the microphone (${(err as Error).name}): allow it in the address bar and try again.`;
      this.o.send({ t: 'stage_leave' });
      return;
    }
    const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
    this.pc = pc;
    for (const t of this.local.getTracks()) pc.addTransceiver(t, { direction: 'sendonly', streams: [this.local] });
    for (let i = 0; i < this.slotCount; i += 1) {
      pc.addTransceiver('audio', { direction: 'recvonly' });
      pc.addTransceiver('video', { direction: 'recvonly' });
    }
    const dc = pc.createDataChannel('stage');
    dc.onmessage = (ev): void => {
      try {
        const msg = JSON.parse(String(ev.data)) as { t: string; slots?: SlotView[] };
        if (msg.t === 'slots' && Array.isArray(msg.slots)) {
          this.slots = msg.slots;
          this.renderTiles();
        }
      } catch {
        // not ours
      }
    };
    pc.ontrack = (ev): void => {
      const mid = ev.transceiver.mid ?? '';
      let s = this.streams.get(mid);
      if (!s) this.streams.set(mid, (s = new MediaStream()));
      s.addTrack(ev.track);
      this.renderTiles();
    };
    pc.onconnectionstatechange = (): void => {
      if (pc.connectionState === 'failed') void this.hangUp('The stage connection failed: the network may block WebRTC (UDP).');
    };
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    this.say.textContent = 'Connecting to the stage…';
    const r = await fetch(`/stage/${this.o.channel}${host ? '?host=1' : ''}`, {
      method: 'POST', headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${this.o.token() ?? ''}` }, body: pc.localDescription!.sdp,
    }).catch(() => undefined);
    const body = r ? await r.text() : '';
    if (!r || r.status !== 201) {
      await this.hangUp(r ? `The server did not let you on stage: ${body.trim()}` : 'The server could not be reached.');
      return;
    }
    this.resource = r.headers.get('location') ?? undefined;
    await pc.setRemoteDescription({ type: 'answer', sdp: body });
    if (!(await connected(pc, MEDIA_WAIT_MS))) {
      await this.hangUp('The stage connection did not come up: the network may block WebRTC (UDP).');
      return;
    }
    this.say.textContent = this.picture ? 'You are on stage: the class hears you and sees your tile in the picture.' : 'You are on stage: the class hears you.';
    this.render();
  }

  /** Hangs up the media (the hub's stage_leave is sent by the caller that means it). */
  private async hangUp(why: string): Promise<void> {
    const pc = this.pc;
    this.pc = undefined;
    for (const t of this.local?.getTracks() ?? []) t.stop();
    this.local = undefined;
    this.slots = [];
    this.streams.clear();
    if (pc) pc.close();
    const res = this.resource;
    this.resource = undefined;
    if (res) await fetch(res, { method: 'DELETE', headers: { Authorization: `Bearer ${this.o.token() ?? ''}` } }).catch(() => undefined);
    if (why) this.say.textContent = why;
    this.render();
  }

  private leave(): void {
    this.o.send({ t: 'stage_leave' });
    void this.hangUp('You left the stage.');
  }

  private toggleSelfMute(): void {
    this.selfMuted = !this.selfMuted;
    for (const t of this.local?.getAudioTracks() ?? []) t.enabled = !this.selfMuted;
    this.render();
  }

  private render(): void {
    if (!this.o.staff) this.el.hidden = this.members.length === 0 && this.prompt.hidden && !this.pc && !this.say.textContent;
    this.list.replaceChildren(...this.members.map((m) => h('li', { 'data-user': m.userId },
      h('span', { class: 'who' }, m.name), h('span', { class: 'role' }, m.userId === this.me ? ' (you)' : m.role === 'viewer' ? '' : ` (${m.role})`),
      m.muted ? h('span', { class: 'muted' }, ' muted') : null,
      this.o.staff && m.userId !== this.me ? h('span', { class: 'mod' },
        h('button', { type: 'button', onclick: () => this.o.send({ t: 'stage_mute', userId: m.userId, muted: !m.muted }) }, m.muted ? 'Unmute' : 'Mute'),
        h('button', { type: 'button', onclick: () => this.o.send({ t: 'stage_remove', userId: m.userId }) }, 'Remove')) : null)));
    if (this.members.length === 0) this.list.append(h('li', { class: 'empty' }, 'Nobody is on stage.'));
    this.pending.replaceChildren(...this.invites.map((i) => h('li', {}, `${i.name} — waiting for an answer`)));
    this.pendingTitle.hidden = this.invites.length === 0;
    const buttons: HTMLElement[] = [];
    if (this.pc) {
      buttons.push(h('button', { type: 'button', onclick: () => this.toggleSelfMute(), 'aria-pressed': String(this.selfMuted) }, this.selfMuted ? 'Unmute my microphone' : 'Mute my microphone'));
      buttons.push(h('button', { type: 'button', class: 'leave', onclick: () => this.leave() }, 'Leave the stage'));
    } else if (this.o.staff) {
      const step = h('button', { type: 'button', disabled: !this.live, onclick: () => { this.o.send({ t: 'stage_join' }); void this.connect(false, this.hostBox.checked); } }, 'Join the stage');
      buttons.push(step, h('label', { for: 'stage-host', class: 'host' }, this.hostBox, ' My voice is already in the broadcast (I am streaming)'));
      if (!this.live) buttons.push(h('span', { class: 'sub' }, 'The stage opens when the class is live.'));
    }
    this.controls.replaceChildren(...buttons);
    this.renderTiles();
  }

  /** One figure per slot, kept while the slot carries the same member (re-creating it would cut the sound). */
  private readonly figures = new Map<string, { user: string; fig: HTMLElement; video: HTMLVideoElement; audio: HTMLAudioElement; tracks: string }>();
  private selfFig?: { fig: HTMLElement; stream: MediaStream };

  private renderTiles(): void {
    const tiles: HTMLElement[] = [];
    if (this.local) {
      if (this.selfFig?.stream !== this.local) {
        const v = h('video', { autoplay: true, playsinline: true, muted: true, class: 'self' });
        v.muted = true;
        v.srcObject = this.local;
        this.selfFig = { stream: this.local, fig: h('figure', { class: 'tile' }, this.local.getVideoTracks().length ? v : h('div', { class: 'voice', 'aria-hidden': 'true' }, 'You'), h('figcaption', {}, this.local.getVideoTracks().length ? 'You' : 'You (microphone only)')) };
      }
      tiles.push(this.selfFig.fig);
    } else this.selfFig = undefined;
    const seen = new Set<string>();
    for (const s of this.slots) {
      seen.add(s.audioMid);
      const a = this.streams.get(s.audioMid)?.getAudioTracks() ?? [];
      const vt = this.streams.get(s.videoMid)?.getVideoTracks() ?? [];
      const tracks = [...a, ...vt].map((t) => t.id).join(',');
      let f = this.figures.get(s.audioMid);
      if (!f || f.user !== s.userId) {
        const video = h('video', { autoplay: true, playsinline: true, muted: true, 'data-user': s.userId });
        video.muted = true;
        const audio = h('audio', { autoplay: true });
        f = { user: s.userId, video, audio, tracks: '', fig: h('figure', { class: 'tile', 'data-user': s.userId, 'data-initial': initials(s.name) }, video, audio, h('figcaption', {})) };
        this.figures.set(s.audioMid, f);
      }
      // The sound on its own element: it plays whether or not a picture comes.
      if (f.tracks !== tracks) {
        f.video.srcObject = new MediaStream(vt);
        f.audio.srcObject = new MediaStream(a);
        void f.audio.play().catch(() => undefined);
        f.tracks = tracks;
      }
      // No picture (a microphone only, or none yet): the tile shows the member's initials.
      f.fig.classList.toggle('voice-only', f.video.videoWidth === 0);
      const fig = f.fig;
      f.video.onresize = (): void => { fig.classList.toggle('voice-only', f!.video.videoWidth === 0); };
      f.fig.querySelector('figcaption')!.textContent = `${s.name}${s.muted ? ' (muted)' : ''}`;
      tiles.push(f.fig);
    }
    for (const k of [...this.figures.keys()]) if (!seen.has(k)) this.figures.delete(k);
    this.tiles.replaceChildren(...tiles);
  }
}
