// The hub's wire shapes, shared by the server (hub/protocol.ts parses and sends them) and the pages (src/web):
// types only, so the browser bundle takes nothing from here but their checking. docs/protocol.md documents each.

import type { ChatMessage, ClassState, HandView, Participant, PollView, QuestionView, Reaction, StageInvite, StageMember } from './engagement.js';
import type { CaptionCue } from './captions.js';

export type ClientMsg =
  | { t: 'chat'; text: string }
  | { t: 'ask'; text: string }
  | { t: 'q_vote'; id: string }
  | { t: 'q_answer'; id: string }
  | { t: 'q_dismiss'; id: string }
  | { t: 'poll_create'; question: string; options: string[] }
  | { t: 'poll_vote'; id: string; option: number }
  | { t: 'poll_close'; id: string }
  | { t: 'react'; emoji: Reaction }
  | { t: 'hand_raise' }
  | { t: 'hand_lower'; userId?: string }
  | { t: 'participants' }
  | { t: 'delete'; id: string }
  | { t: 'mute'; userId: string; minutes: number }
  | { t: 'ban'; userId: string }
  | { t: 'clear_reactions' }
  | { t: 'lock_chat'; locked: boolean }
  | { t: 'slow_mode'; seconds: number }
  /** A caption line: `start` is the program time (epoch ms) of the picture the captioner saw when the line began. */
  | { t: 'caption'; text: string; start: number; lang?: string }
  | { t: 'stage_invite'; userId: string }
  | { t: 'stage_accept' }
  | { t: 'stage_decline' }
  | { t: 'stage_join' }
  | { t: 'stage_leave' }
  | { t: 'stage_remove'; userId: string }
  | { t: 'stage_mute'; userId: string; muted: boolean }
  | { t: 'ping' };

export type ErrorCode =
  | 'bad_json' | 'bad_frame' | 'bad_version' | 'unknown_type' | 'invalid' | 'forbidden' | 'rate_limited' | 'slow_mode'
  | 'chat_locked' | 'muted' | 'not_found' | 'poll_closed' | 'class_ended' | 'internal';

export type RoomEvent =
  | { t: 'chat'; msg: ChatMessage }
  | { t: 'chat_deleted'; id: string }
  | { t: 'question'; q: QuestionView }
  | { t: 'poll'; poll: PollView }
  | { t: 'reactions'; counts: Partial<Record<Reaction, number>> }
  | { t: 'reactions_cleared' }
  | { t: 'presence'; count: number }
  | { t: 'hands'; queue: HandView[] }
  | { t: 'chat_state'; locked: boolean; slowModeSeconds: number }
  | ({ t: 'class' } & ClassState)
  | { t: 'kicked'; userId: string; reason: 'banned' }
  | { t: 'caption'; cue: CaptionCue }
  /** To staff: the class's speech engine started or stopped (and why). */
  | { t: 'captions_status'; running: boolean; message: string }
  /** Who is on stage now (everyone). */
  | { t: 'stage'; members: StageMember[] }
  /** Invitations not yet answered (staff). */
  | { t: 'stage_invites'; pending: StageInvite[] };

export interface Snapshot {
  /** `startsAt`: the scheduled start (ISO time) while waiting, when the channel has one. */
  class: ClassState & { startsAt?: string | null };
  chat: ChatMessage[];
  questions: QuestionView[];
  polls: PollView[];
  hands?: HandView[];
  /** To staff: the speech engine's state, when the class has one. */
  speech?: { running: boolean; message: string };
  chatState: { locked: boolean; slowModeSeconds: number };
  presence: number;
  reactions: readonly Reaction[];
  /** The class's last caption lines (a page that joins late shows the one on screen). */
  captions?: CaptionCue[];
  /** Who is on stage (when anyone is); `stageInvites` to staff. */
  stage?: StageMember[];
  stageInvites?: StageInvite[];
  /** People the stage holds at once (stage.maxMembers): a member's page offers one slot for each of the others. */
  stageMax?: number;
  /** The broadcast shows the stage's members as tiles over the class's video (their camera, or their name). */
  stagePicture?: boolean;
}

export type ServerMsg =
  | { v: 1; t: 'welcome'; you: Participant & { guest: boolean }; room: Snapshot; mine: { questionVotes: string[]; pollVotes: Record<string, number>; handRaised: boolean } }
  | { v: 1; t: 'batch'; events: RoomEvent[] }
  | { v: 1; t: 'error'; code: ErrorCode; message: string; ref?: string }
  | { v: 1; t: 'participants'; list: Participant[] }
  | { v: 1; t: 'hand'; raised: boolean }
  | { v: 1; t: 'muted'; until: number }
  | { v: 1; t: 'pong' }
  /** You are invited to the stage (accept with stage_accept before expiresAt). */
  | { v: 1; t: 'stage_invited'; by: string; expiresAt: number }
  /** You were taken off the stage, or your invitation was withdrawn. */
  | { v: 1; t: 'stage_removed'; reason: 'removed' | 'declined' | 'expired' }
  /** Sent first to a guest who joined with a name: reconnect with this token to stay the same person. */
  | { v: 1; t: 'guest_token'; token: string; expiresAt: string };

/** A player's quality-of-experience numbers since its previous beacon. */
export interface BeaconQoe {
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

/** POST /api/beacon: the watch page's beacon, every 10 s while a class plays (the server validates every field). */
export interface BeaconBody extends BeaconQoe {
  channel: string;
  /** The viewer's join token (a guest: the one from the hub's guest_token message). */
  token: string;
  sessionId: string | null;
}
