// The engagement panel on the hub protocol: chat, Q&A, polls, reactions, hand, viewers. In staff mode (studio)
// it adds moderation and class controls. All participant text is rendered as text nodes.

import { clear, h, timeOf } from './dom.js';
import type { DirectMsg, HubClient, Welcome } from './hub-client.js';
import type { ChatMessage as Chat, ClassState, HandView as Hand, PollView as Poll, QuestionView as Question, Reaction } from '../domain/engagement.js';
import type { RoomEvent } from '../domain/wire.js';

export interface PanelOptions {
  staff: boolean;
  /** Staff: a button inviting this person on stage (raised hands, participants). */
  stageInvite?: (userId: string, name: string) => HTMLElement;
  /** Where floating reactions rise (over the player). */
  floatLayer?: HTMLElement;
  onClass?(c: ClassState): void;
  onPresence?(n: number): void;
}

export class Panel {
  readonly el: HTMLElement;
  private hub?: HubClient;
  private me = { userId: '', role: 'learner' };
  private chat: Chat[] = [];
  private questions = new Map<string, Question>();
  private polls = new Map<string, Poll>();
  private hands: Hand[] = [];
  private myVotes = new Set<string>();
  private myPollVotes = new Map<string, number>();
  private handRaised = false;
  private chatState = { locked: false, slowModeSeconds: 0 };
  private reactions: readonly Reaction[] = [];
  private readonly chatList = h('ol', { class: 'chat-list', 'aria-live': 'polite' });
  private readonly qList = h('ol', { class: 'q-list' });
  private readonly pollList = h('div', { class: 'poll-list' });
  private readonly handList = h('ol', { class: 'hand-list' });
  private readonly people = h('ul', { class: 'people', 'aria-label': 'participants', hidden: true });
  private readonly viewers = h('span', { class: 'viewers' }, '');
  private readonly notice = h('p', { class: 'notice', role: 'status' }, '');
  private readonly reactionBar = h('div', { class: 'reaction-bar', role: 'group', 'aria-label': 'reactions' });
  private readonly handBtn = h('button', { type: 'button', class: 'hand', onclick: () => this.toggleHand() }, 'Raise hand');
  private readonly chatInput = h('input', { type: 'text', maxlength: 500, placeholder: 'Say something…', 'aria-label': 'chat message' });
  private readonly chatState$ = h('span', { class: 'chat-state' }, '');

  constructor(private readonly o: PanelOptions) {
    const chatForm = h('form', { class: 'chat-form', onsubmit: (e: Event) => { e.preventDefault(); this.sendChat(); } },
      this.chatInput, h('button', { type: 'submit' }, 'Send'));
    const askInput = h('input', { type: 'text', maxlength: 300, placeholder: 'Ask a question…', 'aria-label': 'question' });
    const askForm = h('form', { class: 'ask-form', onsubmit: (e: Event) => {
      e.preventDefault();
      if (askInput.value.trim()) this.hub?.send({ t: 'ask', text: askInput.value });
      askInput.value = '';
    } }, askInput, h('button', { type: 'submit' }, 'Ask'));
    const tabs = h('div', { class: 'sections' },
      h('section', { class: 'chat', 'aria-label': 'chat' }, h('h2', {}, 'Chat ', this.chatState$), this.chatList, chatForm),
      h('section', { class: 'qa', 'aria-label': 'questions' }, h('h2', {}, 'Q&A'), this.qList, askForm),
      h('section', { class: 'polls', 'aria-label': 'polls' }, h('h2', {}, 'Polls'), this.pollList, o.staff ? this.pollForm() : null),
      o.staff ? h('section', { class: 'hands', 'aria-label': 'raised hands' }, h('h2', {}, 'Raised hands'), this.handList) : null,
      o.staff ? this.moderation() : null,
    );
    this.el = h('aside', { class: 'panel' },
      h('div', { class: 'panel-head' }, this.viewers, o.staff ? null : this.handBtn), this.notice, this.reactionBar, tabs);
  }

  attach(hub: HubClient): void {
    this.hub = hub;
  }

  status(s: string): void {
    const text: Record<string, string> = {
      connecting: 'Connecting…', open: '', closed: 'Connection lost — reconnecting…',
      refused: 'This link is not valid any more. Open the class again from your course page.', banned: 'You have been removed from this class.',
    };
    this.notice.textContent = text[s] ?? '';
  }

  welcome(m: Welcome): void {
    const { you, room, mine } = m;
    this.me = { userId: you.userId, role: you.role };
    if (you.role === 'viewer' || you.role === 'captioner') {
      // LTI mentors and other non-course roles watch and read; a captioner captions; the server refuses their
      // posts, so offer none.
      this.notice.textContent = you.role === 'captioner'
        ? 'You are the captioner: chat, questions and polls are read-only for you.'
        : 'You are watching as a viewer: chat, questions and polls are read-only.';
      for (const el of this.el.querySelectorAll<HTMLInputElement | HTMLButtonElement>('form input, form button, .reaction-bar button')) el.disabled = true;
      this.handBtn.disabled = true;
    }
    this.chat = room.chat;
    this.questions = new Map(room.questions.map((q) => [q.id, q]));
    this.polls = new Map(room.polls.map((p) => [p.id, p]));
    this.hands = room.hands ?? [];
    this.myVotes = new Set(mine.questionVotes);
    this.myPollVotes = new Map(Object.entries(mine.pollVotes));
    this.handRaised = mine.handRaised;
    this.chatState = room.chatState;
    this.reactions = room.reactions;
    this.renderReactionBar();
    this.setViewers(room.presence);
    this.renderAll();
    this.classState(room.class.state);
    this.o.onClass?.(room.class);
  }

  /** After the class (learners): everything that posts is disabled, with a notice saying why. */
  private classState(state: string): void {
    if (this.o.staff || this.me?.role === 'viewer' || this.me?.role === 'captioner') return;
    const ended = state === 'ended';
    for (const el of this.el.querySelectorAll<HTMLInputElement | HTMLButtonElement>('form input, form button, .reaction-bar button, .poll button')) el.disabled = ended;
    this.handBtn.disabled = ended;
    this.el.classList.toggle('read-only', ended);
    if (ended) this.notice.textContent = 'The class has ended: chat, questions and polls are read-only.';
    else if (this.notice.textContent?.startsWith('The class has ended')) this.notice.textContent = '';
  }

  event(e: RoomEvent): void {
    switch (e.t) {
      case 'chat': {
        this.chat.push(e.msg);
        if (this.chat.length > 100) this.chat.shift();
        this.renderChat();
        break;
      }
      case 'chat_deleted':
        this.chat = this.chat.filter((c) => c.id !== e.id);
        this.renderChat();
        break;
      case 'question':
        this.questions.set(e.q.id, e.q);
        this.renderQuestions();
        break;
      case 'poll':
        this.polls.set(e.poll.id, e.poll);
        this.renderPolls();
        break;
      case 'reactions':
        for (const [emoji, n] of Object.entries(e.counts)) this.float(emoji, Math.min(n ?? 0, 8));
        break;
      case 'presence':
        this.setViewers(e.count);
        break;
      case 'hands':
        this.hands = e.queue;
        this.renderHands();
        break;
      case 'chat_state':
        this.chatState = { locked: e.locked, slowModeSeconds: e.slowModeSeconds };
        this.renderChatState();
        break;
      case 'class':
        this.classState(e.state);
        this.o.onClass?.({ state: e.state, sessionId: e.sessionId, replay: e.replay, captions: e.captions });
        break;
    }
  }

  direct(m: DirectMsg): void {
    if (m.t === 'error') this.notice.textContent = m.message;
    else if (m.t === 'hand') {
      this.handRaised = m.raised;
      this.handBtn.textContent = this.handRaised ? 'Lower hand' : 'Raise hand';
    } else if (m.t === 'muted') this.notice.textContent = `You are muted until ${timeOf(m.until)}.`;
    else if (m.t === 'participants') {
      const list = m.list;
      if (this.o.staff && this.o.stageInvite) {
        this.people.replaceChildren(...list.map((p) => h('li', {}, h('span', {}, `${p.name} (${p.role})`),
          p.userId !== this.me?.userId && p.role !== 'captioner' ? this.o.stageInvite!(p.userId, p.name) : null)));
        this.people.hidden = list.length === 0;
      } else this.notice.textContent = `Participants: ${list.map((p) => `${p.name} (${p.role})`).join(', ')}`;
    }
  }

  private setViewers(n: number): void {
    this.viewers.textContent = `${n} watching`;
    this.o.onPresence?.(n);
  }

  private sendChat(): void {
    const text = this.chatInput.value.trim();
    if (!text) return;
    this.hub?.send({ t: 'chat', text });
    this.chatInput.value = '';
  }

  private toggleHand(): void {
    this.hub?.send({ t: this.handRaised ? 'hand_lower' : 'hand_raise' });
  }

  private renderAll(): void {
    this.renderChat();
    this.renderQuestions();
    this.renderPolls();
    this.renderHands();
    this.renderChatState();
    this.handBtn.textContent = this.handRaised ? 'Lower hand' : 'Raise hand';
  }

  private renderChatState(): void {
    const parts = [this.chatState.locked ? 'locked' : '', this.chatState.slowModeSeconds ? `slow mode ${this.chatState.slowModeSeconds} s` : ''].filter(Boolean);
    this.chatState$.textContent = parts.length ? `(${parts.join(', ')})` : '';
  }

  private renderChat(): void {
    clear(this.chatList);
    for (const c of this.chat) {
      const li = h('li', { class: `msg role-${c.role}`, 'data-id': c.id },
        h('span', { class: 'who' }, c.name), h('span', { class: 'text' }, c.text), h('time', {}, timeOf(c.at)));
      if (this.o.staff && c.userId !== this.me.userId) {
        li.append(h('span', { class: 'mod' },
          h('button', { type: 'button', title: 'delete', onclick: () => this.hub?.send({ t: 'delete', id: c.id }) }, 'Delete'),
          h('button', { type: 'button', title: 'mute 10 minutes', onclick: () => this.hub?.send({ t: 'mute', userId: c.userId, minutes: 10 }) }, 'Mute'),
          h('button', { type: 'button', title: 'ban from the class', onclick: () => { if (confirm(`Ban ${c.name} from this class?`)) this.hub?.send({ t: 'ban', userId: c.userId }); } }, 'Ban')));
      }
      this.chatList.append(li);
    }
    if (this.chat.length === 0) this.chatList.append(h('li', { class: 'empty' }, 'No messages yet.'));
    this.chatList.scrollTop = this.chatList.scrollHeight;
  }

  private renderQuestions(): void {
    clear(this.qList);
    const qs = [...this.questions.values()].sort((a, b) => b.votes - a.votes || a.at - b.at);
    for (const q of qs) {
      const voted = this.myVotes.has(q.id);
      this.qList.append(h('li', { class: `q q-${q.status}` },
        h('button', { type: 'button', class: voted ? 'vote voted' : 'vote', 'aria-pressed': String(voted), onclick: () => {
          if (voted) this.myVotes.delete(q.id);
          else this.myVotes.add(q.id);
          this.hub?.send({ t: 'q_vote', id: q.id });
        } }, `▲ ${q.votes}`),
        h('span', { class: 'text' }, q.text), h('span', { class: 'who' }, q.name),
        q.status !== 'open' ? h('span', { class: 'status' }, q.status) : null,
        this.o.staff && q.status === 'open' ? h('span', { class: 'mod' },
          h('button', { type: 'button', onclick: () => this.hub?.send({ t: 'q_answer', id: q.id }) }, 'Answered'),
          h('button', { type: 'button', onclick: () => this.hub?.send({ t: 'q_dismiss', id: q.id }) }, 'Dismiss')) : null));
    }
    if (qs.length === 0) this.qList.append(h('li', { class: 'empty' }, 'No questions yet.'));
  }

  private renderPolls(): void {
    clear(this.pollList);
    const polls = [...this.polls.values()].sort((a, b) => b.at - a.at);
    for (const p of polls) {
      const mine = this.myPollVotes.get(p.id);
      const rows = p.options.map((opt, i) => {
        const pct = p.total ? Math.round((100 * (p.counts[i] ?? 0)) / p.total) : 0;
        return h('li', { class: mine === i ? 'opt mine' : 'opt' },
          !this.o.staff && !p.closed
            ? h('button', { type: 'button', onclick: () => { this.myPollVotes.set(p.id, i); this.hub?.send({ t: 'poll_vote', id: p.id, option: i }); this.renderPolls(); } }, opt)
            : h('span', {}, opt),
          h('meter', { min: 0, max: 100, value: pct }), h('span', { class: 'count' }, `${p.counts[i] ?? 0} (${pct}%)`));
      });
      this.pollList.append(h('div', { class: p.closed ? 'poll closed' : 'poll', 'data-id': p.id },
        h('h3', {}, p.question, p.closed ? ' — final' : ''), h('ol', {}, ...rows), h('p', { class: 'total' }, `${p.total} vote${p.total === 1 ? '' : 's'}`),
        this.o.staff && !p.closed ? h('button', { type: 'button', onclick: () => this.hub?.send({ t: 'poll_close', id: p.id }) }, 'Close poll') : null));
    }
    if (polls.length === 0) this.pollList.append(h('p', { class: 'empty' }, 'No polls yet.'));
  }

  private renderHands(): void {
    clear(this.handList);
    for (const hand of this.hands) {
      this.handList.append(h('li', {}, h('span', {}, hand.name), h('time', {}, timeOf(hand.at)),
        h('button', { type: 'button', onclick: () => this.hub?.send({ t: 'hand_lower', userId: hand.userId }) }, 'Lower'),
        this.o.stageInvite?.(hand.userId, hand.name)));
    }
    if (this.hands.length === 0) this.handList.append(h('li', { class: 'empty' }, 'No raised hands.'));
  }

  private renderReactionBar(): void {
    clear(this.reactionBar);
    for (const r of this.reactions) {
      this.reactionBar.append(h('button', { type: 'button', 'aria-label': `react ${r}`, onclick: () => { this.hub?.send({ t: 'react', emoji: r }); this.float(r, 1); } }, r));
    }
    if (this.o.staff) this.reactionBar.append(h('button', { type: 'button', title: 'Remove the reactions floating over everyone\'s video', onclick: () => this.hub?.send({ t: 'clear_reactions' }) }, 'Clear reactions'));
  }

  private float(emoji: string, n: number): void {
    const layer = this.o.floatLayer;
    if (!layer) return;
    for (let i = 0; i < n; i++) {
      const span = h('span', { class: 'float', 'aria-hidden': 'true' }, emoji);
      span.style.left = `${10 + Math.random() * 80}%`;
      span.addEventListener('animationend', () => span.remove());
      layer.append(span);
    }
  }

  private pollForm(): HTMLElement {
    const q = h('input', { type: 'text', maxlength: 200, placeholder: 'Question', 'aria-label': 'poll question' });
    const opts = h('textarea', { rows: 3, placeholder: 'One option per line (2-10)', 'aria-label': 'poll options' });
    return h('form', { class: 'poll-form', onsubmit: (e: Event) => {
      e.preventDefault();
      const options = opts.value.split('\n').map((s) => s.trim()).filter(Boolean);
      this.hub?.send({ t: 'poll_create', question: q.value, options });
      q.value = '';
      opts.value = '';
    } }, q, opts, h('button', { type: 'submit' }, 'Start poll'));
  }

  private moderation(): HTMLElement {
    const slow = h('select', { 'aria-label': 'slow mode', onchange: () => this.hub?.send({ t: 'slow_mode', seconds: Number(slow.value) }) },
      ...[0, 10, 30, 60].map((s) => h('option', { value: String(s) }, s ? `Slow mode: ${s} s` : 'Slow mode off')));
    const lock = h('button', { type: 'button', onclick: () => this.hub?.send({ t: 'lock_chat', locked: !this.chatState.locked }) }, 'Lock / unlock chat');
    const who = h('button', { type: 'button', onclick: () => this.hub?.send({ t: 'participants' }) }, 'Participants');
    return h('section', { class: 'moderation', 'aria-label': 'moderation' }, h('h2', {}, 'Moderation'), slow, lock, who, this.people);
  }
}
