// The engagement records every layer shares: what a chat message, a question, a poll and a class state are, and
// the operations the hub hands to the store. Types only; imports nothing of ours but the roles and the caption cue.

import type { Role } from './roles.js';
import type { CaptionCue } from './captions.js';

export const REACTIONS = ['👍', '👏', '❤️', '😂', '😮', '🎉'] as const;
export type Reaction = (typeof REACTIONS)[number];

export interface Participant {
  userId: string;
  name: string;
  role: Role;
}

export interface ChatMessage extends Participant {
  id: string;
  text: string;
  at: number;
}

export interface QuestionView extends Participant {
  id: string;
  text: string;
  votes: number;
  status: 'open' | 'answered' | 'dismissed';
  at: number;
}

export interface PollView {
  id: string;
  question: string;
  options: string[];
  counts: number[];
  total: number;
  closed: boolean;
  at: number;
}

/** Someone on the class's stage (speaking to the class over WebRTC). */
export interface StageMember {
  userId: string;
  name: string;
  role: Role;
  /** When they came on stage (epoch ms). */
  since: number;
  /** Muted by the instructor. */
  muted: boolean;
}

/** An invitation to the stage not yet answered (staff see them). */
export interface StageInvite {
  userId: string;
  name: string;
  expiresAt: number;
}

export interface HandView {
  userId: string;
  name: string;
  at: number;
}

/** `captions`: the languages the live class is captioned in (absent or empty: not captioned). */
export type ClassState = { state: 'waiting' | 'live' | 'reconnecting' | 'ended'; sessionId: string | null; replay: string | null; startsAt?: string | null; captions?: string[] };


export type PersistOp =
  | { op: 'chat'; msg: ChatMessage; sessionId: string | null }
  | { op: 'chat_delete'; id: string; at: number }
  | { op: 'question'; q: QuestionView; sessionId: string | null }
  | { op: 'question_vote'; id: string; userId: string; on: boolean }
  | { op: 'poll'; poll: PollView; sessionId: string | null }
  | { op: 'poll_vote'; id: string; userId: string; option: number }
  | { op: 'ban'; userId: string; by: string; at: number }
  | { op: 'mute'; userId: string; until: number }
  /** One more reaction or raised hand by a learner in a session, for the class report. */
  | { op: 'tally'; kind: 'reaction' | 'hand'; userId: string; sessionId: string; n: number }
  | { op: 'caption'; cue: CaptionCue; sessionId: string }
  /** A spell on stage: opened when someone comes up (leftAt null), closed when they step down. */
  | { op: 'stage'; userId: string; name: string; sessionId: string; joinedAt: number; leftAt: number | null };

export interface RoomInit {
  chat?: ChatMessage[];
  questions?: (QuestionView & { voters: string[] })[];
  polls?: (PollView & { votes: [string, number][] })[];
  bans?: string[];
  mutes?: [string, number][];
  sessionId?: string | null;
}
