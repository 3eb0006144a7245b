// The replay's transcript beside the player: every caption line of the class with its time, a search that keeps
// the lines with the words asked for, a click (or Enter) on a line seeks the replay there, downloads as WebVTT and
// text, and for the class's instructor a correction of any line (the replay's captions follow).

import { h } from './dom.js';
import { clock } from './player.js';
import { languageName } from '../domain/captions.js';

interface Line { id: string; start: number; end: number; text: string; lang: string }
interface Transcript { sessionId: string; t0: number | null; languages: string[]; lines: Line[] }

export interface TranscriptDeps {
  video: HTMLVideoElement;
  auth: Record<string, string>;
  /** May correct lines (the class's instructor). */
  editor: boolean;
}

export class TranscriptView {
  readonly el: HTMLElement;
  private readonly list: HTMLOListElement;
  private readonly search: HTMLInputElement;
  private readonly status: HTMLElement;
  private readonly downloads: HTMLElement;
  private readonly lang: HTMLSelectElement;
  private t?: Transcript;

  constructor(private readonly d: TranscriptDeps) {
    this.search = h('input', { type: 'search', placeholder: 'Search the transcript', 'aria-label': 'Search the transcript', oninput: () => this.draw() });
    this.lang = h('select', { 'aria-label': 'Transcript language', hidden: true, onchange: () => this.draw() });
    this.status = h('p', { class: 'transcript-status', role: 'status' }, '');
    this.list = h('ol', { class: 'transcript-lines' });
    this.downloads = h('p', { class: 'transcript-downloads' });
    this.el = h('section', { class: 'transcript', hidden: true, 'aria-labelledby': 'transcript-title' },
      h('h2', { id: 'transcript-title' }, 'Transcript'), h('div', { class: 'transcript-find' }, this.search, this.lang), this.status, this.list, this.downloads);
    d.video.addEventListener('timeupdate', () => this.follow());
  }

  /** Loads a replay's transcript; `mediaUrl`: the replay's master playlist URL (its folder has the files). */
  async open(sessionId: string, mediaUrl: string): Promise<void> {
    const r = await fetch(`/api/sessions/${sessionId}/transcript`, { headers: this.d.auth }).catch(() => undefined);
    if (!r?.ok) return;
    this.t = await r.json() as Transcript;
    if (!this.t.lines.length) return;
    this.lang.replaceChildren(...this.t.languages.map((l) => h('option', { value: l }, languageName(l))));
    this.lang.hidden = this.t.languages.length < 2;
    this.downloads.replaceChildren();
    if (/\/master\.m3u8(\?|$)/.test(mediaUrl)) {
      const file = (ext: string): string => mediaUrl.replace(/master\.m3u8/, `captions-${this.lang.value}/transcript.${ext}`);
      this.downloads.append('Download: ', h('a', { href: file('vtt'), download: `transcript-${sessionId}.vtt` }, 'WebVTT'), ' · ',
        h('a', { href: file('txt'), download: `transcript-${sessionId}.txt` }, 'Text'));
    }
    this.el.hidden = false;
    this.draw();
  }

  private lines(): Line[] {
    return (this.t?.lines ?? []).filter((l) => l.lang === (this.lang.value || this.t?.languages[0]));
  }

  private draw(): void {
    const q = this.search.value.trim().toLowerCase();
    const all = this.lines();
    const shown = q ? all.filter((l) => l.text.toLowerCase().includes(q)) : all;
    this.status.textContent = q ? `${shown.length} of ${all.length} lines contain “${this.search.value.trim()}”` : `${all.length} lines`;
    this.list.replaceChildren(...shown.map((l) => this.item(l, q)));
  }

  private at(l: Line): number {
    return Math.max(0, (l.start - (this.t?.t0 ?? 0)) / 1000);
  }

  private item(l: Line, q: string): HTMLLIElement {
    const text = h('span', { class: 'text' }, ...marked(l.text, q));
    const seek = h('button', { type: 'button', class: 'line', 'data-id': l.id, title: `Play from ${clock(this.at(l))}`, onclick: () => {
      this.d.video.currentTime = this.at(l) + 0.05;
      void this.d.video.play().catch(() => {});
    } }, h('time', {}, clock(this.at(l))), ' ', text);
    const li = h('li', { 'data-start': String(this.at(l)) }, seek);
    if (this.d.editor) li.append(h('button', { type: 'button', class: 'edit', 'aria-label': `Correct the line at ${clock(this.at(l))}`, onclick: () => this.edit(li, l) }, 'Edit'));
    return li;
  }

  private edit(li: HTMLLIElement, l: Line): void {
    const input = h('input', { type: 'text', value: l.text, maxlength: 200, 'aria-label': `Corrected line at ${clock(this.at(l))}` });
    const save = async (): Promise<void> => {
      const text = input.value.trim();
      if (!text || text === l.text) return this.draw();
      const r = await fetch(`/api/sessions/${this.t!.sessionId}/captions/${l.id}`, {
        method: 'PATCH', headers: { ...this.d.auth, 'Content-Type': 'application/json' }, body: JSON.stringify({ text }),
      }).catch(() => undefined);
      if (!r?.ok) {
        this.status.textContent = `Not saved: ${(await r?.json().catch(() => ({})) as { message?: string })?.message ?? 'the server could not be reached'}`;
        return;
      }
      l.text = ((await r.json()) as Line).text;
      this.draw();
      this.status.textContent = 'Saved: the replay\'s captions and the transcript files say it now.';
    };
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') void save();
      else if (e.key === 'Escape') this.draw();
    });
    li.replaceChildren(input, h('button', { type: 'button', onclick: () => void save() }, 'Save'), h('button', { type: 'button', onclick: () => this.draw() }, 'Cancel'));
    input.focus();
  }

  /** Marks the line being said. */
  private follow(): void {
    if (this.el.hidden) return;
    const now = this.d.video.currentTime;
    for (const li of this.list.children) {
      const start = Number((li as HTMLElement).dataset.start);
      const next = Number((li.nextElementSibling as HTMLElement | null)?.dataset.start ?? Infinity);
      li.classList.toggle('now', now >= start && now < next);
    }
  }
}

/** The text with each occurrence of `q` in a <mark>. */
function marked(text: string, q: string): (string | HTMLElement)[] {
  if (!q) return [text];
  const out: (string | HTMLElement)[] = [];
  let i = 0;
  const lower = text.toLowerCase();
  for (let j = lower.indexOf(q); j !== -1; j = lower.indexOf(q, i)) {
    out.push(text.slice(i, j), h('mark', {}, text.slice(j, j + q.length)));
    i = j + q.length;
  }
  out.push(text.slice(i));
  return out;
}
