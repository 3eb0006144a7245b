// The engagement protocol, version 1: typed client and server messages and the one parser that turns an
// untrusted text frame into a typed ClientMsg. Pure. Every message is documented in docs/protocol.md.

import type { Role } from '../domain/roles.js';
import { REACTIONS, type Reaction } from '../domain/engagement.js';
import type { ClientMsg, ErrorCode } from '../domain/wire.js';
import { CAPTION_MAX_CHARS } from '../domain/captions.js';

/** Who a hub connection is (from its join token), wherever its socket is. */
export interface Identity {
  userId: string;
  name: string;
  role: Role;
  guest: boolean;
}

export { REACTIONS } from '../domain/engagement.js';
export type { ChatMessage, ClassState, HandView, Participant, PollView, QuestionView, Reaction } from '../domain/engagement.js';

export type { ClientMsg, ErrorCode, RoomEvent, ServerMsg, Snapshot } from '../domain/wire.js';

export const PROTOCOL_VERSION = 1;
export const MAX_FRAME_BYTES = 4096;

export type ClientType = ClientMsg['t'];

export type Parsed = { ok: true; msg: ClientMsg; ref?: string } | { ok: false; code: ErrorCode; message: string; ref?: string };

const ID = /^[a-z0-9_]{1,40}$/;
const USER = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 128;
const bad = (message: string, ref?: string): Parsed => ({ ok: false, code: 'invalid', message, ref });

function text(v: unknown, max: number): string | undefined {
  if (typeof v !== 'string') return undefined;
  const s = v.trim();
  if (s.length === 0 || s.length > max) return undefined;
  return s;
}

export interface Limits {
  chatMaxLength: number;
}

/** Parses one text frame. Never throws. */
export function parseClientMessage(frame: string, limits: Limits): Parsed {
  if (frame.length > MAX_FRAME_BYTES) return { ok: false, code: 'bad_frame', message: `frames are limited to ${MAX_FRAME_BYTES} bytes` };
  let raw: unknown;
  try {
    raw = JSON.parse(frame);
  } catch {
    return { ok: false, code: 'bad_json', message: 'frames must be JSON' };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, code: 'bad_frame', message: 'a frame must be a JSON object' };
  const o = raw as Record<string, unknown>;
  const ref = typeof o.ref === 'string' && o.ref.length <= 32 ? o.ref : undefined;
  if (o.v !== PROTOCOL_VERSION) return { ok: false, code: 'bad_version', message: `unsupported protocol version; send "v": ${PROTOCOL_VERSION}`, ref };
  if (typeof o.t !== 'string') return { ok: false, code: 'bad_frame', message: 'a frame needs a string "t" (type)', ref };
  const ok = (msg: ClientMsg): Parsed => ({ ok: true, msg, ref });
  switch (o.t) {
    case 'chat': {
      const s = text(o.text, limits.chatMaxLength);
      return s ? ok({ t: 'chat', text: s }) : bad(`chat text must be 1-${limits.chatMaxLength} characters`, ref);
    }
    case 'ask': {
      const s = text(o.text, 300);
      return s ? ok({ t: 'ask', text: s }) : bad('a question must be 1-300 characters', ref);
    }
    case 'q_vote':
    case 'q_answer':
    case 'q_dismiss':
    case 'poll_close':
    case 'delete':
      return typeof o.id === 'string' && ID.test(o.id) ? ok({ t: o.t, id: o.id }) : bad('"id" must be an id string', ref);
    case 'poll_create': {
      const q = text(o.question, 200);
      const opts = Array.isArray(o.options) ? o.options.map((x) => text(x, 100)) : [];
      if (!q) return bad('a poll question must be 1-200 characters', ref);
      if (opts.length < 2 || opts.length > 10 || opts.some((x) => x === undefined)) return bad('a poll needs 2-10 options of 1-100 characters', ref);
      return ok({ t: 'poll_create', question: q, options: opts as string[] });
    }
    case 'poll_vote':
      if (typeof o.id !== 'string' || !ID.test(o.id)) return bad('"id" must be an id string', ref);
      if (typeof o.option !== 'number' || !Number.isInteger(o.option) || o.option < 0 || o.option > 9) return bad('"option" must be an option index', ref);
      return ok({ t: 'poll_vote', id: o.id, option: o.option });
    case 'react':
      return (REACTIONS as readonly unknown[]).includes(o.emoji) ? ok({ t: 'react', emoji: o.emoji as Reaction }) : bad(`"emoji" must be one of ${REACTIONS.join(' ')}`, ref);
    case 'stage_accept':
    case 'stage_decline':
    case 'stage_join':
    case 'stage_leave':
    case 'hand_raise':
    case 'participants':
    case 'clear_reactions':
    case 'ping':
      return ok({ t: o.t });
    case 'caption': {
      const s = text(o.text, CAPTION_MAX_CHARS);
      if (!s || /[\u0000-\u0009\u000b-\u001f\u007f]/.test(s)) return bad(`caption text must be 1-${CAPTION_MAX_CHARS} printable characters`, ref);
      if (typeof o.start !== 'number' || !Number.isSafeInteger(o.start) || o.start <= 0) return bad('"start" must be the program time of the line (epoch ms)', ref);
      if (o.lang !== undefined && (typeof o.lang !== 'string' || !/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$/.test(o.lang))) return bad('"lang" must be a language tag like en', ref);
      return ok(o.lang === undefined ? { t: 'caption', text: s, start: o.start } : { t: 'caption', text: s, start: o.start, lang: o.lang as string });
    }
    case 'hand_lower':
      if (o.userId !== undefined && !USER(o.userId)) return bad('"userId" must be a user id', ref);
      return ok(o.userId === undefined ? { t: 'hand_lower' } : { t: 'hand_lower', userId: o.userId as string });
    case 'mute':
      if (!USER(o.userId)) return bad('"userId" must be a user id', ref);
      if (typeof o.minutes !== 'number' || !Number.isInteger(o.minutes) || o.minutes < 1 || o.minutes > 1440) return bad('"minutes" must be 1-1440', ref);
      return ok({ t: 'mute', userId: o.userId, minutes: o.minutes });
    case 'stage_invite':
    case 'stage_remove':
      return USER(o.userId) ? ok({ t: o.t, userId: o.userId }) : bad('"userId" must be a user id', ref);
    case 'stage_mute':
      if (!USER(o.userId)) return bad('"userId" must be a user id', ref);
      return typeof o.muted === 'boolean' ? ok({ t: 'stage_mute', userId: o.userId, muted: o.muted }) : bad('"muted" must be true or false', ref);
    case 'ban':
      return USER(o.userId) ? ok({ t: 'ban', userId: o.userId }) : bad('"userId" must be a user id', ref);
    case 'lock_chat':
      return typeof o.locked === 'boolean' ? ok({ t: 'lock_chat', locked: o.locked }) : bad('"locked" must be true or false', ref);
    case 'slow_mode':
      return typeof o.seconds === 'number' && Number.isInteger(o.seconds) && o.seconds >= 0 && o.seconds <= 3600
        ? ok({ t: 'slow_mode', seconds: o.seconds }) : bad('"seconds" must be 0-3600 (0 turns slow mode off)', ref);
    default:
      return { ok: false, code: 'unknown_type', message: `unknown message type ${JSON.stringify(o.t.slice(0, 32))}`, ref };
  }
}
