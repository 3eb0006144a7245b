// The caption desk: where a captioner (or the instructor) types a class's captions live, line by line. A line is
// timed to the picture the typist saw when it began (the player's program time at its first keystroke), can be
// corrected until it is sent (Enter; Shift+Enter for a second line), and shows in the learners' players at once.

import { h, timeOf } from './dom.js';
import type { ClientMsg } from '../domain/wire.js';
import { CAPTION_MAX_CHARS, languageName } from '../domain/captions.js';

export interface DeskDeps {
  send(msg: ClientMsg): void;
  /** The program time the typist's player shows (epoch ms), or undefined before it plays. */
  programTime(): number | undefined;
}

export class CaptionDesk {
  readonly el: HTMLElement;
  private readonly input: HTMLTextAreaElement;
  private readonly lang: HTMLSelectElement;
  private readonly sent: HTMLOListElement;
  private readonly status: HTMLElement;
  private startedAt: number | undefined;

  constructor(private readonly d: DeskDeps) {
    this.input = h('textarea', {
      id: 'caption-line', rows: 2, maxlength: CAPTION_MAX_CHARS, placeholder: 'Type what is said; Enter sends the line',
      oninput: () => {
        // The line's time: the picture on screen when its first character was typed.
        if (this.input.value.trim() === '') this.startedAt = undefined;
        else this.startedAt ??= this.d.programTime() ?? Date.now();
      },
      onkeydown: (e: Event) => {
        const k = e as KeyboardEvent;
        if (k.key === 'Enter' && !k.shiftKey && !k.isComposing) {
          k.preventDefault();
          this.sendLine();
        } else if (k.key === 'Escape') {
          this.input.value = '';
          this.startedAt = undefined;
        }
      },
    });
    this.lang = h('select', { 'aria-label': 'Caption language' });
    this.sent = h('ol', { class: 'caption-sent', 'aria-label': 'Lines sent' });
    this.status = h('p', { class: 'caption-status', role: 'status' }, '');
    this.el = h('section', { class: 'caption-desk', hidden: true, 'aria-labelledby': 'caption-desk-title' },
      h('h2', { id: 'caption-desk-title', class: 'caption-desk-title' }, 'Captions'),
      h('label', { for: 'caption-line' }, 'Line to send (Enter sends, Shift+Enter adds a line, Esc clears)'),
      this.input,
      h('div', { class: 'caption-actions' }, this.lang, h('button', { type: 'button', onclick: () => this.sendLine() }, 'Send line')),
      this.status, this.sent);
  }

  /** Shown while the class is live and captioned in `langs`. */
  show(langs: readonly string[] | undefined, live: boolean): void {
    const on = live && !!langs?.length;
    this.el.hidden = !on;
    if (!on || !langs) return;
    const have = [...this.lang.options].map((o) => o.value).join(',');
    if (have !== langs.join(',')) this.lang.replaceChildren(...langs.map((l) => h('option', { value: l }, languageName(l))));
    this.lang.hidden = langs.length < 2;
  }

  /** The hub took a line: it is on the air. */
  accepted(cue: { text: string; start: number; by: string }, me: string): void {
    if (cue.by !== me) return;
    this.sent.prepend(h('li', {}, h('time', {}, timeOf(cue.start)), ' ', cue.text));
    while (this.sent.children.length > 5) this.sent.lastElementChild?.remove();
    this.status.textContent = '';
  }

  refused(message: string): void {
    this.status.textContent = message;
  }

  private sendLine(): void {
    const text = this.input.value.trim();
    if (!text) return;
    const start = this.startedAt ?? this.d.programTime() ?? Date.now();
    this.d.send({ t: 'caption', text, start: Math.round(start), lang: this.lang.value || undefined });
    this.input.value = '';
    this.startedAt = undefined;
    this.input.focus();
  }
}
