// The studio's Reports tab: pick a class, see attendance, engagement and quality of experience, with charts
// (uPlot, bundled) and sortable tables that export to CSV. Everything shown comes from /api/sessions/<id>/report.

import uPlot from 'uplot';
import { clear, h } from './dom.js';
import type { ClassReport, CostReport, LearnerRow } from '../domain/reports.js';

type Learner = LearnerRow;
type Report = ClassReport;
interface Session { id: string; startedAt: string; endedAt: string | null }

type Col = [label: string, get: (l: Learner) => string | number | null, numeric: boolean];
const COLUMNS: Col[] = [
  ['Learner', (l) => l.name, false], ['Minutes', (l) => l.minutes, true], ['Share %', (l) => l.sharePct, true],
  ['Arrived', (l) => (l.neverCame ? 'never came' : l.late ? 'late' : 'on time'), false], ['Left early', (l) => (l.leftEarly ? 'yes' : ''), false],
  ['Chat', (l) => l.chat, true], ['Questions', (l) => l.questions, true], ['Upvotes', (l) => l.upvotes, true], ['Poll answers', (l) => l.pollAnswers, true],
  ['Reactions', (l) => l.reactions, true], ['Hands', (l) => l.hands, true], ['Startup ms', (l) => l.startupMs, true],
  ['Rebuffer %', (l) => l.rebufferPct, true], ['Errors', (l) => l.playbackErrors, true],
];

function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

function barsChart(title: string, labels: string[], values: number[], unit: string, width: number): HTMLElement {
  const box = h('figure', { class: 'chart-box', 'data-chart': title }, h('figcaption', {}, title));
  const fg = cssVar('--fg', '#16181d');
  const grid = cssVar('--line', '#d9dce1');
  const bars = uPlot.paths.bars ? uPlot.paths.bars({ size: [0.6, 60] }) : undefined;
  new uPlot({
    width, height: 180, legend: { show: false }, cursor: { show: false },
    scales: { x: { time: false, range: [-0.5, labels.length - 0.5] }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.15)] } },
    axes: [
      { stroke: fg, grid: { show: false }, ticks: { stroke: grid }, splits: () => labels.map((_, i) => i), values: () => labels },
      { stroke: fg, grid: { stroke: grid }, ticks: { stroke: grid }, label: unit, labelSize: 20, size: 50 },
    ],
    series: [{}, { label: title, fill: cssVar('--accent', '#2563eb'), stroke: cssVar('--accent', '#2563eb'), paths: bars, points: { show: false } }],
  }, [labels.map((_, i) => i), values], box);
  box.append(h('table', { class: 'chart-data sr-only' }, ...labels.map((l, i) => h('tr', {}, h('th', {}, l), h('td', {}, String(values[i]))))));
  return box;
}

export function timelineChart(r: Pick<Report, 'timeline'>, width: number): HTMLElement {
  const box = h('figure', { class: 'chart-box', 'data-chart': 'viewers' }, h('figcaption', {}, 'Viewers during the class'));
  const fg = cssVar('--fg', '#16181d');
  const grid = cssVar('--line', '#d9dce1');
  const xs = r.timeline.map((p) => Date.parse(p.at) / 1000);
  new uPlot({
    width, height: 200, legend: { show: false },
    scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max + 1)] } },
    axes: [
      { stroke: fg, grid: { stroke: grid }, ticks: { stroke: grid }, label: 'time', labelSize: 20 },
      { stroke: fg, grid: { stroke: grid }, ticks: { stroke: grid }, label: 'viewers', labelSize: 20, size: 50 },
    ],
    series: [{}, { label: 'viewers', stroke: cssVar('--accent', '#2563eb'), width: 2, fill: 'rgba(37, 99, 235, 0.15)' }],
  }, [xs, r.timeline.map((p) => p.viewers)], box);
  return box;
}

export class ReportsView {
  readonly el = h('section', { class: 'card reports', 'aria-label': 'reports' });
  private readonly picker = h('select', { 'aria-label': 'class to report on', onchange: () => void this.show(this.picker.value) });
  private readonly body = h('div', { class: 'report-body' });
  private readonly cost = h('div', { class: 'cost', 'aria-label': 'cost this month' });
  private sort: { col: number; desc: boolean } = { col: 0, desc: false };
  private report?: Report;

  constructor(private readonly channel: string, private readonly auth: Record<string, string>) {
    this.el.append(h('h2', {}, 'Reports'), h('label', { class: 'report-pick' }, 'Class ', this.picker), this.body, this.cost);
  }

  async open(): Promise<void> {
    const r = await fetch(`/api/channels/${this.channel}/sessions`, { headers: this.auth }).catch(() => undefined);
    clear(this.picker);
    if (!r || !r.ok) {
      this.body.replaceChildren(h('p', { class: 'notice' }, r?.status === 401 ? 'Reports are for the class\'s instructor.' : 'Reports are unavailable right now.'));
      return;
    }
    const sessions = await r.json() as Session[];
    if (sessions.length === 0) {
      this.body.replaceChildren(h('p', { class: 'empty' }, 'No classes yet: a report appears here once you have gone live.'));
      return;
    }
    for (const s of sessions) {
      const when = new Date(s.startedAt).toLocaleString([], { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
      this.picker.append(h('option', { value: s.id }, `${when}${s.endedAt ? '' : ' (live)'}`));
    }
    await this.show(sessions[0]!.id);
    await this.showCost();
  }

  /** This channel's classes this month: what they cost here against all-Mux and Zoom. */
  private async showCost(): Promise<void> {
    const now = new Date();
    const from = `${now.toISOString().slice(0, 8)}01`;
    const to = now.toISOString().slice(0, 10);
    const r = await fetch(`/api/reports/cost?channel=${this.channel}&from=${from}&to=${to}`, { headers: this.auth }).catch(() => undefined);
    if (!r || !r.ok) {
      this.cost.replaceChildren();
      return;
    }
    const c = await r.json() as CostReport;
    const usd = (n: number): string => `$${n.toFixed(2)}`;
    const stat = (label: string, value: string, key: string): HTMLElement =>
      h('div', { class: 'stat', 'data-cost': key }, h('span', { class: 'num' }, value), h('span', { class: 'label' }, label));
    this.cost.replaceChildren(h('h3', {}, `Cost of this channel's classes since ${from}`),
      h('div', { class: 'stats' },
        stat(`self-hosted (${c.classes.length} ${c.classes.length === 1 ? 'class' : 'classes'})`, usd(c.totals.ours), 'ours'),
        stat('the same if egress were free', usd(c.totals.oursAtZeroEgress), 'oursAtZeroEgress'),
        stat('the same on all-Mux', usd(c.totals.allMux), 'allMux'),
        stat('its share of Zoom', usd(c.totals.zoom), 'zoom'),
        stat('saving vs Zoom', c.savingVsZoomPct === null ? '—' : `${c.savingVsZoomPct}%`, 'savingVsZoom')),
      h('p', { class: 'sub', 'data-cost-basis': '' }, `${c.totals.minutes} class minutes, ${c.totals.viewerMinutes} viewer-minutes, `
        + `${c.totals.mbPerViewerMinute === null ? 'no' : c.totals.mbPerViewerMinute} MB delivered per viewer-minute, egress priced at $${c.egressPerGb}/GB `
        + `(free when the box serves learners over its own bandwidth). Prices are the school's settings (docs/cost.md).`));
  }

  private async show(id: string): Promise<void> {
    const r = await fetch(`/api/sessions/${id}/report`, { headers: this.auth });
    if (!r.ok) {
      this.body.replaceChildren(h('p', { class: 'notice' }, 'This report could not be loaded.'));
      return;
    }
    this.report = await r.json() as Report;
    this.render();
  }

  private render(): void {
    const r = this.report!;
    const s = r.summary;
    const width = Math.max(260, Math.min(720, this.el.clientWidth - 24));
    const stat = (label: string, value: string | number | null | undefined, key: string): HTMLElement =>
      h('div', { class: 'stat', 'data-stat': key }, h('span', { class: 'num' }, value === null || value === undefined ? '—' : String(value)), h('span', { class: 'label' }, label));
    this.body.replaceChildren(
      r.session.partial ? h('p', { class: 'notice' }, 'This class is still live: the report is partial.') : '',
      r.session.source ? h('p', { class: 'sub', 'data-source': '' }, `Streamed from ${r.session.source}.`) : '',
      r.session.topRung ? h('p', { class: 'sub', 'data-delivery': '' }, `Delivery: ${r.session.topRung}.`) : '',
      h('div', { class: 'stats' },
        stat('came', s.attended, 'attended'), ...(s.rostered ? [stat('on the roster', s.rostered, 'rostered'), stat('never came', s.neverCame, 'neverCame')] : []),
        stat('peak viewers', s.peakViewers, 'peakViewers'), stat('average viewers', s.averageViewers, 'averageViewers'),
        stat('chat messages', s.chat, 'chat'), stat('questions', s.questions, 'questions'), stat('poll answers', s.pollAnswers, 'pollAnswers'),
        stat('median startup (ms)', s.medianStartupMs, 'medianStartupMs'), stat('rebuffering %', s.rebufferPct, 'rebufferPct'),
        stat('bad experience', s.badExperience, 'badExperience')),
      timelineChart(r, width),
      h('div', { class: 'chart-row' },
        barsChart('Watch time by quality', r.renditions.map((x) => x.rendition), r.renditions.map((x) => x.sharePct), '% of watch time', Math.min(width, 360)),
        barsChart('Video startup time', r.startup.map((x) => x.bucket), r.startup.map((x) => x.count), 'learners', Math.min(width, 360))),
      h('div', { class: 'table-head' }, h('h3', {}, 'Learners'), this.csvButton('learners')),
      this.learnerTable(),
      ...(r.polls.length ? [h('div', { class: 'table-head' }, h('h3', {}, 'Polls'), this.csvButton('polls')), ...r.polls.map((p) => h('div', { class: 'poll-result' },
        h('p', {}, p.question, ` (${p.total} answers${p.closed ? '' : ', still open'})`),
        h('ul', {}, ...p.options.map((o) => h('li', {}, `${o.text}: ${o.votes} (${o.pct}%)`)))))] : [h('p', { class: 'empty' }, 'No polls in this class.')]),
      h('p', {}, h('strong', {}, 'Most active: '), r.mostActive.join(', ') || '—'),
      h('p', {}, h('strong', {}, 'Silent: '), r.silent.join(', ') || '—'),
      ...(r.stage ? [h('p', { class: 'stage-summary' }, h('strong', {}, 'On stage: '), r.stage.map((s) => `${s.name} (${s.minutes >= 1 ? `${s.minutes} min` : `${s.seconds} s`})`).join(', '))] : []),
      ...(r.captions ? [h('p', { class: 'captions-summary' }, h('strong', {}, 'Captions: '), captionsText(r.captions), ' — ',
        h('a', { href: `/watch/${r.session.channel}?replay=${r.session.id}&token=${encodeURIComponent(new URLSearchParams(location.search).get('token') ?? '')}` }, 'transcript with the replay'))] : []),
    );
  }

  private learnerTable(): HTMLElement {
    const rows = [...this.report!.learners];
    const [, get, numeric] = COLUMNS[this.sort.col]!;
    rows.sort((a, b) => {
      const x = get(a);
      const y = get(b);
      const c = numeric ? (Number(x ?? -1) - Number(y ?? -1)) : String(x ?? '').localeCompare(String(y ?? ''));
      return this.sort.desc ? -c : c;
    });
    const head = h('tr', {}, ...COLUMNS.map(([label], i) => h('th', {
      scope: 'col', 'aria-sort': this.sort.col === i ? (this.sort.desc ? 'descending' : 'ascending') : 'none',
    }, h('button', { type: 'button', class: 'sort', onclick: () => { this.sort = { col: i, desc: this.sort.col === i ? !this.sort.desc : false }; this.render(); } }, label))));
    return h('div', { class: 'table-wrap' }, h('table', { class: 'learners' }, h('thead', {}, head),
      h('tbody', {}, ...rows.map((l) => h('tr', { class: l.badExperience ? 'bad' : l.neverCame ? 'absent' : '' },
        ...COLUMNS.map(([, g]) => h('td', {}, String(g(l) ?? '—'))))))));
  }

  private csvButton(table: string): HTMLElement {
    return h('button', { type: 'button', class: 'csv', onclick: () => void this.download(table) }, 'Export CSV');
  }

  private async download(table: string): Promise<void> {
    const id = this.report!.session.id;
    const r = await fetch(`/api/sessions/${id}/report?format=csv&table=${table}`, { headers: this.auth });
    if (!r.ok) return;
    const url = URL.createObjectURL(await r.blob());
    const a = h('a', { href: url, download: `${id}-${table}.csv` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }
}

/** "42 lines in en, es: 30 typed by 1 captioner, 12 from speech". */
export function captionsText(c: NonNullable<ClassReport['captions']>): string {
  const parts = [c.typed ? `${c.typed} typed by ${c.captioners} ${c.captioners === 1 ? 'person' : 'people'}` : '', c.fromSpeech ? `${c.fromSpeech} from speech` : ''].filter(Boolean);
  return `${c.lines} lines in ${c.languages.join(', ')}: ${parts.join(', ')}`;
}
