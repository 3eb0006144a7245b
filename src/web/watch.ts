// /watch/<channel>: the learner page — player, class state, engagement panel, QoE beacons.

import { $, h, popOut } from './dom.js';
import { HubClient, hubUrl } from './hub-client.js';
import { Panel } from './panel.js';
import { Player } from './player.js';
import type { BeaconBody } from '../domain/wire.js';
import { CaptionDesk } from './captioner.js';
import { StageView } from './stage.js';
import { TranscriptView } from './transcript.js';
import { languageName, type CaptionCue } from '../domain/captions.js';

const app = $('#app');
const NEEDS_LINK = 'Open it from your course page in the LMS, or use the link your teacher sent you.';
const channel = app.dataset.channel ?? '';
const params = new URLSearchParams(location.search);
const player = new Player();
const stage = h('div', { class: 'stage' });
const overlay = h('div', { class: 'overlay', role: 'status' });
const floatLayer = h('div', { class: 'floats' });
let sessionId: string | null = null;
let me = '';
let myRole = '';
// A guest's own token from the hub: reconnects and reloads of this tab stay the same person (bans and limits hold).
const GUEST_KEY = `kmk-guest:${channel}`;
const storedGuest = (): string | null => {
  try {
    return sessionStorage.getItem(GUEST_KEY);
  } catch {
    return null; // storage blocked (a strict iframe): the guest is new on each reload
  }
};
let guestToken: string | null = params.get('token') ? null : storedGuest();
let state = '';
let startsAt: string | null | undefined;
let countdown: ReturnType<typeof setInterval> | undefined;
// The join token also unlocks playback of private classes: the server answers URLs that carry a playback token.
const auth: Record<string, string> = params.get('token') ? { Authorization: `Bearer ${params.get('token')}` } : {};

function until(at: Date): string {
  const s = Math.max(0, Math.round((at.getTime() - Date.now()) / 1000));
  if (s === 0) return 'any moment now';
  const d = Math.floor(s / 86400);
  const hms = [Math.floor((s % 86400) / 3600), Math.floor((s % 3600) / 60), s % 60];
  return `in ${d ? `${d} d ` : ''}${hms[0] ? `${hms[0]} h ` : ''}${hms[1]} min ${String(hms[2]).padStart(2, '0')} s`;
}

function offerReplay(ended: string): void {
  // The local recording, or the Mux archive once the local copy is gone: the server says which, if any.
  void fetch(`/api/sessions/${ended}/replay`, { headers: auth }).then((r) => (r.ok ? r.json() as Promise<{ url: string }> : null)).then((p) => {
    if (!p || (state !== 'ended' && state !== 'waiting')) return;
    overlay.append(h('button', { type: 'button', class: 'replay', onclick: () => {
      overlay.replaceChildren();
      player.load(p.url);
      void transcript.open(ended, p.url);
    } }, '▶ Watch the replay'));
  }, () => {});
}

function setState(c: { state: string; sessionId: string | null; replay: string | null; startsAt?: string | null }): void {
  if (c.state === state && c.sessionId === sessionId && c.startsAt === startsAt) return;
  if (countdown) clearInterval(countdown);
  countdown = undefined;
  startsAt = c.startsAt;
  state = c.state;
  sessionId = c.sessionId;
  app.dataset.state = c.state;
  overlay.replaceChildren();
  if (c.state === 'waiting') {
    player.stop();
    const at = c.startsAt ? new Date(c.startsAt) : null;
    const when = at ? at.toLocaleString([], { weekday: 'short', hour: '2-digit', minute: '2-digit' }) : '';
    const left = h('p', { class: 'countdown' }, at ? until(at) : '');
    overlay.append(h('p', { class: 'waiting' }, at ? `The class starts at ${when}.` : 'The class has not started yet.'), ...(at ? [left] : []),
      h('p', { class: 'sub' }, 'Stay here: it starts playing as soon as the instructor goes live.'));
    if (at) countdown = setInterval(() => { left.textContent = until(at); }, 1000);
    // Opened from the LMS after the last class: its replay.
    const replay = params.get('replay');
    if (replay && /^s_[a-z0-9]{16}$/.test(replay)) offerReplay(replay);
  } else if (c.state === 'live') {
    // Local ladder or, when the box was full, Mux's playback URL: the server says which.
    void fetch(`/api/channels/${channel}/playback`, { headers: auth }).then(async (r) => {
      const p = await r.json() as { url?: string; message?: string; lowLatency?: boolean };
      if (!r.ok || !p.url) throw new Error(p.message ?? 'playback unavailable');
      player.load(p.url, { lowLatency: p.lowLatency === true });
    }).catch((err: unknown) => {
      overlay.replaceChildren(h('p', {}, err instanceof Error ? err.message : 'The video cannot be played right now.'));
    });
  } else if (c.state === 'reconnecting') {
    overlay.append(h('p', {}, 'The instructor\'s connection dropped — reconnecting…'));
  } else if (c.state === 'ended') {
    player.stop();
    overlay.append(h('p', {}, 'The class has ended.'));
    // Only a recorded class has a replay to ask for (asking anyway logs a 404 in the console).
    if (c.sessionId && c.replay) offerReplay(c.sessionId);
  }
}

const panel = new Panel({ staff: false, floatLayer, onClass: (c) => {
  setState(c);
  desk.show(c.captions, c.state === 'live' || c.state === 'reconnecting');
  if (myRole !== 'captioner') desk.el.hidden = true;
} });
const transcript = new TranscriptView({ video: player.video, auth, get editor() { return myRole === 'instructor'; } });
const desk = new CaptionDesk({ send: (m) => hub.send(m), programTime: () => player.programTime() });
const caption = (cue: CaptionCue): void => {
  player.liveCaption(cue, `${languageName(cue.lang)} (live)`);
  desk.accepted(cue, me);
};
const guestParams = (): URLSearchParams => {
  const p = new URLSearchParams(params);
  if (guestToken) p.set('token', guestToken);
  return p;
};
const stageView = new StageView({ channel, token: () => params.get('token') ?? guestToken, send: (m) => hub.send(m), staff: false });
const hub = new HubClient(hubUrl(guestParams(), channel), {
  welcome: (m) => {
    me = m.you.userId;
    myRole = m.you.role;
    panel.welcome(m);
    stageView.welcome(m);
    for (const c of m.room.captions ?? []) caption(c);
  },
  event: (e) => {
    if (e.t === 'caption') caption(e.cue);
    else {
      panel.event(e);
      stageView.event(e);
    }
  },
  direct: (m) => {
    if (m.t === 'guest_token' && typeof m.token === 'string') {
      guestToken = m.token;
      try {
        sessionStorage.setItem(GUEST_KEY, m.token);
      } catch {
        // storage blocked: this page still reconnects as the same guest
      }
      hub.url = hubUrl(guestParams(), channel);
      return;
    }
    if (m.t === 'error' && !desk.el.hidden) desk.refused(m.message);
    panel.direct(m);
    stageView.direct(m);
  },
  status: (s) => {
    // A stored guest token that no longer works (expired, ended): join again as a new guest with the name.
    if (s === 'refused' && guestToken && !params.get('token')) {
      guestToken = null;
      try {
        sessionStorage.removeItem(GUEST_KEY);
      } catch {
        // nothing stored
      }
      hub.url = hubUrl(params, channel);
      if (params.get('name')) {
        hub.connect();
        return;
      }
      showGuestForm();
      return;
    }
    // A name without a token was refused: guests are not (or no longer) allowed here, not a stale link.
    if (s === 'refused' && !params.get('token')) {
      overlay.replaceChildren(h('p', {}, 'This class does not take guests.'), h('p', { class: 'sub' }, NEEDS_LINK));
      panel.status('closed-quiet');
      return;
    }
    panel.status(s);
  },
});
panel.attach(hub);

stage.append(player.el, overlay, floatLayer);
app.replaceChildren(h('header', { class: 'top' }, h('h1', {}, app.dataset.title ?? channel), popOut()),
  h('main', { class: 'layout' }, stage, panel.el));
// The captioner types beside the picture, above the class's chat.
panel.el.prepend(stageView.el, desk.el, transcript.el);

function showGuestForm(): void {
  // No join token: offer to join as a guest (this channel allows guests).
  const name = h('input', { type: 'text', maxlength: 80, placeholder: 'Your name', 'aria-label': 'your name', required: true });
  overlay.replaceChildren(h('form', { class: 'guest', onsubmit: (e: Event) => {
    e.preventDefault();
    params.set('name', name.value.trim());
    history.replaceState(null, '', `?${params.toString()}`);
    overlay.replaceChildren();
    hub.url = hubUrl(params, channel);
    hub.connect();
  } }, h('p', {}, 'Join as a guest'), name, h('button', { type: 'submit' }, 'Join')));
}

if (!params.get('token') && !params.get('name') && app.dataset.guests !== 'on') {
  // No join token and no guests here: say what to do instead of offering a form that cannot work.
  overlay.append(h('p', {}, 'This class is for enrolled learners.'), h('p', { class: 'sub' }, NEEDS_LINK));
} else if (!params.get('token') && !params.get('name') && !guestToken) {
  showGuestForm();
} else {
  hub.connect();
}

// Quality-of-experience beacon every 10 s while a class plays.
setInterval(() => {
  if (state !== 'live' && state !== 'reconnecting') return;
  const token = params.get('token') ?? guestToken;
  if (!token) return;
  const beacon: BeaconBody = { channel, sessionId, token, ...player.qoe() };
  const body = JSON.stringify(beacon);
  void fetch('/api/beacon', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body, keepalive: true }).catch(() => {});
}, 10000);

// For tests and the curious: what the player offers.
(window as unknown as { kmk: unknown }).kmk = { player, levels: () => player.levels(), stage: stageView };
