// /studio/<channel>: the instructor's page — OBS settings and key rotation, live health, class controls, preview.

import { $, clear, h, popOut } from './dom.js';
import { HubClient, hubUrl } from './hub-client.js';
import { StageView } from './stage.js';
import { Panel } from './panel.js';
import { Player } from './player.js';
import { ReportsView, timelineChart } from './reports.js';
import { GoLive } from './golive.js';
import type { ChannelHealth, ClassReport } from '../domain/reports.js';
import { CaptionDesk } from './captioner.js';
import { languageName } from '../domain/captions.js';

const app = $('#app');
const channel = app.dataset.channel ?? '';
const params = new URLSearchParams(location.search);
const token = params.get('token') ?? '';
const auth = { Authorization: `Bearer ${token}` };
const preview = new Player({ muted: true });
const floatLayer = h('div', { class: 'floats' });
const health = h('dl', { class: 'health' });
// Viewers since the class started (from the class report's 10 s buckets), redrawn every 15 s while live.
const chart = h('div', { class: 'live-chart' }, h('p', { class: 'empty' }, 'The viewers chart starts with the class.'));
const obs = h('div', { class: 'obs' });
const keyOut = h('p', { class: 'key', role: 'status' });
let liveState = '';
let lastSession: string | null = null;
const wrap = h('section', { class: 'card wrap-up', hidden: true, 'aria-live': 'polite' });

/** After the class: how it went, in one card, with the replay and the full report one click away. */
async function wrapUp(sessionId: string): Promise<void> {
  const r = await fetch(`/api/sessions/${sessionId}/report`, { headers: auth }).catch(() => undefined);
  if (!r?.ok) return;
  const rep = await r.json() as ClassReport;
  const replay = await fetch(`/api/sessions/${sessionId}/replay`, { headers: auth }).then((x) => (x.ok ? x.json() as Promise<{ url: string }> : null), () => null);
  const s = rep.summary;
  wrap.replaceChildren(h('h2', {}, 'Class wrap-up'),
    h('dl', { class: 'health' },
      h('dt', {}, 'duration'), h('dd', {}, `${rep.session.minutes} min`),
      h('dt', {}, 'peak viewers'), h('dd', {}, String(s.peakViewers)),
      h('dt', {}, 'learners'), h('dd', {}, String(s.attended)),
      h('dt', {}, 'messages'), h('dd', {}, String(s.chat)),
      h('dt', {}, 'questions'), h('dd', {}, String(s.questions)),
      h('dt', {}, 'poll answers'), h('dd', {}, String(s.pollAnswers))),
    ...rep.polls.map((p) => h('p', {}, h('b', {}, p.question), ` — ${p.options.map((o) => `${o.text}: ${o.votes} (${o.pct}%)`).join(', ')}`)),
    h('p', {}, replay ? h('a', { href: `/watch/${channel}?replay=${sessionId}&token=${encodeURIComponent(token)}` }, 'Watch the replay') : 'No replay (the class was not recorded).', ' · ',
      h('a', { href: '#', onclick: (e: Event) => { e.preventDefault(); reportsTab?.click(); } }, 'Open the class report')));
  wrap.hidden = false;
}

async function drawChart(): Promise<void> {
  if (!lastSession || (liveState !== 'live' && liveState !== 'reconnecting')) return;
  const r = await fetch(`/api/sessions/${lastSession}/report`, { headers: auth }).catch(() => undefined);
  if (!r?.ok) return;
  const rep = await r.json() as ClassReport;
  if (rep.timeline.length < 2) return;
  chart.replaceChildren(timelineChart(rep, Math.max(240, chart.clientWidth || 600)));
}

function row(k: string, v: string): HTMLElement[] {
  return [h('dt', {}, k), h('dd', {}, v)];
}

async function refreshHealth(): Promise<void> {
  const r = await fetch(`/api/channels/${channel}/health`, { headers: auth }).catch(() => undefined);
  if (!r || !r.ok) {
    clear(health);
    health.append(...row('status', r?.status === 401 ? 'this studio link needs an instructor join token' : 'unavailable'));
    return;
  }
  const s = await r.json() as ChannelHealth;
  clear(health);
  // Problems first, in words a teacher can act on or pass to IT.
  const alerts: HTMLElement[] = [];
  if (s.crashLoop) alerts.push(...row('problem', `the ladder keeps failing and restarting: ${s.lastError ?? 'unknown error'}`));
  if (s.disk.message) alerts.push(...row('problem', s.disk.message));
  for (const dd of alerts) if (dd.tagName === 'DD') dd.className = 'alert';
  // The same problems above the player, where the instructor looks during the class.
  banner.replaceChildren(...alerts.filter((e) => e.tagName === 'DD').map((dd) => h('p', {}, `⚠ ${dd.textContent ?? ''}`)));
  banner.hidden = alerts.length === 0;
  health.append(
    ...alerts,
    ...row('state', s.state), ...row('ingest', s.ingest ? `${s.ingest.kbps} kbit/s, ${s.ingest.fps} fps, ${s.ingest.width}×${s.ingest.height}` : '—'),
    ...row('ladder', s.ladder.join(', ') || '—'), ...row('transcoder speed', s.speed ? `${s.speed.toFixed(2)}×${s.slow ? ' (cannot keep up!)' : ''}` : '—'),
    ...row('reconnects', String(s.reconnects)), ...row('ffmpeg restarts', String(s.restarts)), ...row('viewers now', String(s.viewers)),
    ...s.notes.flatMap((n) => row('note', n)));
  if (!obs.firstChild) {
    obs.append(h('p', {}, 'OBS → Settings → Stream → Service: Custom'), h('p', {}, 'Server: ', h('code', {}, s.obsServer)),
      h('p', { class: 'sub' }, 'OBS 30 or later can also send WebRTC: Service: WHIP, Server ', h('code', {}, `${location.origin}/whip/${channel}`), ', Bearer Token: your stream key.'),
      h('button', { type: 'button', onclick: () => void rotate() }, 'Rotate stream key…'), keyOut);
  }
  if (s.state === 'live' && liveState !== 'live') {
    void fetch(`/api/channels/${channel}/playback`, { headers: auth }).then((r) => r.json() as Promise<{ url: string }>).then((p) => preview.load(p.url), () => {});
  }
  if (s.state !== 'live' && s.state !== 'reconnecting' && liveState === 'live') preview.stop();
  if (s.sessionId) lastSession = s.sessionId;
  if ((s.state === 'live' || s.state === 'reconnecting') && !chart.querySelector('figure')) setTimeout(() => void drawChart(), 1000);
  if (s.state === 'offline' && (liveState === 'live' || liveState === 'reconnecting' || liveState === 'ending') && lastSession) void wrapUp(lastSession);
  if (s.state === 'live') wrap.hidden = true;
  // Offline: say so over the black preview, with what OBS needs (never the key itself).
  if (s.state === 'offline' || s.state === 'ending') {
    offline.replaceChildren(h('p', {}, s.state === 'ending' ? 'The class is ending…' : 'Offline — not streaming'),
      h('p', { class: 'sub' }, 'Press “Go live” below to teach from this browser; or in OBS: Settings → Stream → Service: Custom, Server ', h('code', {}, s.obsServer),
        ', your stream key (a new one: "Rotate stream key…" below, or kmk-live key rotate ', channel, '). Then "Start Streaming".'));
  } else if (s.state === 'reconnecting') {
    offline.replaceChildren(h('p', {}, 'Your stream dropped — waiting for it to come back…'));
  } else offline.replaceChildren();
  liveState = s.state;
}

async function rotate(): Promise<void> {
  if (!confirm('Issue a new stream key? The current key stops working at once; OBS must be updated.')) return;
  const r = await fetch(`/api/channels/${channel}/stream-key`, { method: 'POST', headers: auth, body: '' });
  if (!r.ok) {
    const why = await r.json().then((j: { message?: string }) => j.message, () => undefined);
    keyOut.textContent = `Could not rotate the key: ${why ?? `the server answered ${r.status}`}.`;
    return;
  }
  const k = await r.json() as { key: string; fingerprint: string };
  clear(keyOut);
  keyOut.append('New stream key (shown only now): ', h('code', {}, k.key));
}

// Scheduled classes: what learners opening the class from the LMS wait for, and what attendance counts against.
const classList = h('ul', { class: 'classes' });
const classNote = h('p', { class: 'notice', role: 'status' }, '');
interface Klass { id: number; title: string; startsAt: number; minutes: number; record: boolean; sessionId: string | null; state: 'scheduled' | 'live' | 'delivered' | 'missed' | 'cancelled'; confirmed?: boolean }

const STATE_TEXT: Record<Klass['state'], string> = { scheduled: '', live: ' (live now)', delivered: ' (delivered)', missed: ' (missed)', cancelled: ' (cancelled)' };

async function refreshClasses(): Promise<void> {
  const r = await fetch(`/api/channels/${channel}/classes`, { headers: auth }).catch(() => undefined);
  if (!r || !r.ok) return;
  const list = await r.json() as Klass[];
  clear(classList);
  if (list.length === 0) classList.append(h('li', { class: 'empty' }, 'No classes scheduled yet.'));
  for (const k of list) {
    const when = new Date(k.startsAt).toLocaleString([], { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
    classList.append(h('li', { 'data-id': k.id }, h('strong', {}, k.title), ` — ${when}, ${k.minutes} min${k.record ? '' : ', not recorded'}${STATE_TEXT[k.state] ?? ''}${k.confirmed === false ? ' (added from the LMS: kept once it is opened there)' : ''} `,
      k.state !== 'scheduled' ? null : h('button', { type: 'button', onclick: () => void cancelClass(k.id) }, 'Cancel')));
  }
}

async function cancelClass(id: number): Promise<void> {
  const r = await fetch(`/api/classes/${id}`, { method: 'DELETE', headers: auth });
  classNote.textContent = r.ok ? 'Class cancelled.' : ((await r.json().catch(() => ({}))) as { message?: string }).message ?? 'Could not cancel the class.';
  void refreshClasses();
}

function scheduleForm(): HTMLFormElement {
  const title = h('input', { name: 'title', maxlength: 200, required: true, 'aria-label': 'class title', placeholder: 'Title' });
  const starts = h('input', { type: 'datetime-local', name: 'startsAt', required: true, 'aria-label': 'start' });
  const minutes = h('input', { type: 'number', name: 'minutes', min: 5, max: 600, value: 60, 'aria-label': 'length in minutes' });
  return h('form', { class: 'schedule', onsubmit: (e: Event) => {
    e.preventDefault();
    const body = JSON.stringify({ title: title.value, startsAt: starts.value, tzOffsetMinutes: new Date().getTimezoneOffset(), minutes: Number(minutes.value) });
    void fetch(`/api/channels/${channel}/classes`, { method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body }).then(async (r) => {
      const j = await r.json().catch(() => ({})) as { message?: string; title?: string };
      classNote.textContent = r.ok ? `Scheduled “${j.title ?? title.value}”.` : `Not scheduled: ${j.message ?? r.status}`;
      if (r.ok) title.value = '';
      void refreshClasses();
    });
  } }, title, starts, minutes, h('button', { type: 'submit' }, 'Schedule'));
}

// Captions: the engine's state (channels with --captions auto) and a desk to type lines (or correct the engine).
const engineState = h('p', { class: 'caption-engine', role: 'status' }, '');
const desk = new CaptionDesk({ send: (m) => hub.send(m), programTime: () => preview.programTime() });
const captionsCard = h('section', { class: 'card captions-card', hidden: true }, h('h2', {}, 'Captions'), engineState, desk.el);
let me = '';
function captionsFor(c: { state: string; captions?: string[] }): void {
  const on = (c.state === 'live' || c.state === 'reconnecting') && !!c.captions?.length;
  captionsCard.hidden = !on;
  desk.show(c.captions, on);
}

const stageView = new StageView({ channel, token: () => token, send: (m) => hub.send(m), staff: true });
const stageCard = h('section', { class: 'card stage-card' }, stageView.el);
const panel = new Panel({ staff: true, floatLayer, stageInvite: (userId, name) => stageView.inviteButton(userId, name), onClass: (c) => {
  captionsFor(c);
  // The hub says the class ended before the next health poll would: stop the preview at once.
  if (c.state === 'ended' || c.state === 'waiting') {
    preview.stop();
    void refreshHealth();
  }
} });
const hub = new HubClient(hubUrl(params, channel), {
  welcome: (m) => {
    me = m.you.userId;
    panel.welcome(m);
    stageView.welcome(m);
    engineState.textContent = m.room.speech?.message ?? '';
    engineState.classList.toggle('alert', m.room.speech?.running === false);
  },
  event: (e) => {
    if (e.t === 'caption') {
      preview.liveCaption(e.cue, `${languageName(e.cue.lang)} (live)`);
      desk.accepted(e.cue, me);
    } else if (e.t === 'captions_status') {
      engineState.textContent = e.message;
      engineState.classList.toggle('alert', !e.running);
    } else {
      panel.event(e);
      stageView.event(e);
    }
  },
  direct: (m) => {
    if (m.t === 'error' && !captionsCard.hidden && /caption/i.test(m.message)) desk.refused(m.message);
    panel.direct(m);
    stageView.direct(m);
  },
  status: (s) => panel.status(s),
});
panel.attach(hub);

const offline = h('div', { class: 'overlay', role: 'status' });
const stage = h('div', { class: 'stage' }, preview.el, offline, floatLayer);
const banner = h('div', { class: 'problems', role: 'alert', hidden: true });
const reports = new ReportsView(channel, auth);
const golive = new GoLive(channel, token);
const liveView = h('div', { class: 'view' }, banner, wrap, stage,
  captionsCard, stageCard,
  h('section', { class: 'card golive-card' }, h('h2', {}, 'Go live from this browser'), golive.el),
  h('section', { class: 'card' }, h('h2', {}, 'Or stream from OBS'), obs),
  h('section', { class: 'card' }, h('h2', {}, 'Live health'), health, h('h3', {}, 'Viewers'), chart),
  h('section', { class: 'card' }, h('h2', {}, 'Classes'), classList, scheduleForm(), classNote));
const reportView = h('div', { class: 'view', hidden: true }, reports.el);
const tab = (name: string, view: HTMLElement, other: HTMLElement, onOpen?: () => void): HTMLButtonElement => {
  const b = h('button', { type: 'button', role: 'tab', class: 'tab', 'aria-selected': view === liveView ? 'true' : 'false', onclick: () => {
    view.hidden = false;
    other.hidden = true;
    for (const t of tabs.querySelectorAll('.tab')) t.setAttribute('aria-selected', String(t === b));
    onOpen?.();
  } }, name);
  return b;
};
const tabs = h('div', { class: 'tabs', role: 'tablist' });
const reportsTab = tab('Reports', reportView, liveView, () => void reports.open());
tabs.append(tab('Live', liveView, reportView), reportsTab);
/** The studio is for the channel's instructors: anyone else gets a page that says so, not controls that fail. */
async function instructorOnly(): Promise<boolean> {
  const r = await fetch(`/api/channels/${channel}/health`, { headers: auth }).catch(() => undefined);
  if (r && (r.status === 401 || r.status === 403)) {
    app.replaceChildren(
      h('header', { class: 'top' }, h('h1', {}, `${app.dataset.title ?? channel} — studio`)),
      h('main', { class: 'landing' }, h('h2', {}, 'This studio is for instructors only'),
        h('p', {}, token ? 'Your link is for watching, or it has expired.' : 'This link has no instructor token.'),
        h('p', {}, 'Open the class from your course page in the LMS as its instructor, or ask your administrator for an instructor link (kmk-live token join ',
          channel, ' --role instructor …).'),
        h('p', {}, h('a', { href: `/watch/${channel}${location.search}` }, 'Go to the watch page'))));
    return false;
  }
  return true;
}

void instructorOnly().then((ok) => {
  if (!ok) return;
  app.replaceChildren(
    h('header', { class: 'top' }, h('h1', {}, `${app.dataset.title ?? channel} — studio`), popOut()),
    h('main', { class: 'layout studio' }, h('div', { class: 'left' }, tabs, liveView, reportView), panel.el));
  hub.connect();
  void refreshHealth();
  void refreshClasses();
  setInterval(() => void refreshHealth(), 2000);
  setInterval(() => void drawChart(), 15000);
  // A window made narrower (a tablet turned, a window snapped) redraws the chart to its new width.
  let resized: number | undefined;
  window.addEventListener('resize', () => { clearTimeout(resized); resized = window.setTimeout(() => void drawChart(), 300); });
});

// For tests and the curious: the stage's connection.
(window as unknown as { kmk: unknown }).kmk = { stage: stageView };
