// The life of one live class as a pure function: step(model, event) → { model, effects }. It decides every
// transition (start, overflow, reconnect, takeover, end); the shell (class-run.ts) performs the effects one at a
// time and hands their outcomes back as events. No I/O, no clock, no callbacks here.
//
//   admitted → starting → live ⇄ reconnecting → ending → ended
//                 └──────────── (refused, failed, ended early) ──┘

import type { Channel } from '../domain/channel.js';
import type { LadderPlan, SourceInfo } from '../transcode/ladder.js';
import type { EncodeQuality } from '../transcode/quality.js';
import { planClass, type ClassPlan, type Expectation } from './admission.js';
import { describeSource, sourceRefusal } from './source.js';

export type RunPhase = 'admitted' | 'starting' | 'live' | 'reconnecting' | 'ending' | 'ended';

export interface RunModel {
  readonly channel: Channel;
  /** The channel's encoding profile with the box's configured quality (default: planLadder's). */
  readonly encode?: EncodeQuality;
  /** The stage's picture is laid over this class's video (planned with every rung encoded). */
  readonly composeStage?: boolean;
  readonly phase: RunPhase;
  /** The publisher the class follows now. */
  readonly publisher: string;
  /** A publish admitted to carry the class on, not yet applied by its step. */
  readonly claimedBy?: string;
  /** Why the class ends, once an end was asked for. */
  readonly endAsked?: string;
  readonly mode: 'local' | 'mux';
  /** What carries the class now: nothing yet (probing, asking Mux), the local outputs, or the relay to Mux. */
  readonly carrier: 'none' | 'local' | 'relay';
  readonly plan?: LadderPlan;
  /** The source as probed at the start. */
  readonly source?: SourceInfo;
  /** What the class expected when its source became known. */
  readonly expect?: Expectation;
  /** On a shared store, when the class arrived: another box with room, named if this one refuses the class. */
  readonly elsewhere?: string;
  readonly muxPlaybackId: string | null;
  readonly reconnects: number;
  readonly notes: readonly string[];
}

export type RunEvent =
  | { t: 'begin' }
  /** `expect`: the audience, length and prices the class expects (the top rung's pass-or-encode decision). */
  | { t: 'source_known'; source: SourceInfo; free: number; muxAvailable: boolean; expect?: Expectation; elsewhere?: string }
  | { t: 'start_failed'; message: string }
  | { t: 'mux_ready'; playbackId: string | null; target: string }
  | { t: 'mux_unavailable'; free: number }
  | { t: 'relay_gave_up'; reason: string; source: SourceInfo; free: number }
  | { t: 'carrier_started' }
  /** Synchronous: a publish was admitted to carry the class on (see mayClaim). */
  | { t: 'claimed'; publisher: string; how: 'reconnect' | 'takeover'; silentMs: number }
  | { t: 'resume'; publisher: string }
  | { t: 'dropped'; publisher: string }
  | { t: 'publisher_ended'; publisher: string }
  /** Synchronous: every later step sees the end asked for. */
  | { t: 'end_asked'; reason: string }
  | { t: 'finish' }
  | { t: 'outputs_closed'; published: boolean }
  | { t: 'kept'; ok: boolean };

export type Announcement = 'started' | 'reconnecting' | 'live';

export type RunEffect =
  | { t: 'log'; level: 'info' | 'warn' | 'error'; msg: string; fields?: Record<string, unknown> }
  /** Hold the media from the first packet (the recording starts with the class) and probe the source beside the queue. */
  | { t: 'hold_and_probe' }
  /** The held media (if still held) follows this publisher. */
  | { t: 'follow'; publisher: string }
  | { t: 'release_media' }
  | { t: 'record_source'; source: ReturnType<typeof describeSource>; ladder: string[]; topRung?: string }
  /** Empty the live folder, make the local outputs for this plan and start them; outcome: carrier_started. */
  | { t: 'start_local'; plan: LadderPlan }
  /** Ask Mux for the channel's live stream; outcome: mux_ready or mux_unavailable. */
  | { t: 'find_mux' }
  | { t: 'mark_overflow' }
  /** Start the relay to Mux; outcome: carrier_started. */
  | { t: 'start_relay'; target: string }
  /** The relay gave up: let it go (frees its link, logs where the bytes went). */
  | { t: 'drop_relay' }
  /** A new publisher carries the class on: the outputs stop and start again, resumed. */
  | { t: 'restart_outputs' }
  | { t: 'count_from'; from: string; to: string }
  | { t: 'snapshot_bytes' }
  | { t: 'kick'; publisher: string }
  | { t: 'arm_grace' }
  | { t: 'clear_grace' }
  | { t: 'announce'; what: Announcement }
  | { t: 'save_reconnects'; reconnects: number }
  /** An end decided inside a step: queued behind it. */
  | { t: 'request_end'; reason: string }
  | { t: 'stop_outputs' }
  /** Outcome: outputs_closed. */
  | { t: 'close_outputs' }
  | { t: 'close_session'; reason: string }
  /** Move the live folder to the replays; outcome: kept. */
  | { t: 'keep_recording' }
  | { t: 'announce_ended'; reason: string; recorded: boolean };

export interface Step {
  model: RunModel;
  effects: RunEffect[];
}

export function initialModel(channel: Channel, publisher: string, encode?: EncodeQuality, composeStage?: boolean): RunModel {
  return { channel, ...(encode ? { encode } : {}), ...(composeStage ? { composeStage } : {}), phase: 'admitted', publisher, mode: 'local', carrier: 'none', muxPlaybackId: null, reconnects: 0, notes: [] };
}

/**
 * May this publish carry the class on? Yes when the publisher dropped (within the grace), or when the current one
 * has sent nothing for takeoverMs (a frozen encoder: the instructor's new publish must not wait for the stall
 * timeout).
 */
export function mayClaim(m: RunModel, silentMs: number, takeoverMs: number): false | 'reconnect' | 'takeover' {
  if (m.endAsked || m.claimedBy) return false;
  const silent = m.phase === 'live' || m.phase === 'starting' ? silentMs : 0;
  const takeover = silent >= takeoverMs;
  if (m.phase !== 'reconnecting' && !takeover) return false;
  return takeover && m.phase !== 'reconnecting' ? 'takeover' : 'reconnect';
}

const none = (model: RunModel): Step => ({ model, effects: [] });

export function step(m: RunModel, e: RunEvent): Step {
  const slug = m.channel.slug;
  switch (e.t) {
    case 'begin':
      if (m.phase !== 'admitted' || m.endAsked) return none(m);
      return { model: { ...m, phase: 'starting' }, effects: [{ t: 'log', level: 'info', msg: 'class starting', fields: { channel: slug } }, { t: 'hold_and_probe' }] };

    case 'source_known': {
      if (m.endAsked || m.carrier !== 'none' || m.plan) return none(m);
      const refusal = sourceRefusal(e.source);
      if (refusal) return refuse(m, refusal);
      const decision = planClass(e.source, m.channel, e.free, { muxAvailable: e.muxAvailable, encode: m.encode, expect: e.expect, composeStage: m.composeStage });
      const known = { ...m, source: e.source, ...(e.expect ? { expect: e.expect } : {}), ...(e.elsewhere ? { elsewhere: e.elsewhere } : {}) };
      if (decision.kind === 'mux') {
        return { model: known, effects: [{ t: 'record_source', source: describeSource(e.source), ladder: ['mux'] }, { t: 'find_mux' }] };
      }
      return startLocal(known, e.source, decision);
    }

    case 'start_failed':
      if (m.endAsked) return none(m);
      return {
        model: m,
        effects: [
          { t: 'log', level: 'error', msg: 'class could not start', fields: { channel: slug, err: e.message } },
          { t: 'kick', publisher: m.publisher },
          { t: 'request_end', reason: `failed: ${e.message}` },
        ],
      };

    case 'mux_ready':
      if (m.endAsked) return none(m);
      return {
        model: { ...m, mode: 'mux', carrier: 'relay', muxPlaybackId: e.playbackId, notes: [...m.notes, 'box full: class relayed to Mux (overflow policy: mux)'] },
        effects: [{ t: 'mark_overflow' }, { t: 'start_relay', target: e.target }],
      };

    case 'mux_unavailable': {
      if (m.endAsked || !m.source) return none(m);
      const noted = { ...m, notes: [...m.notes, 'Mux overflow unavailable; running a reduced local ladder instead'] };
      return startLocal(noted, m.source, planClass(m.source, m.channel, e.free, { muxAvailable: false, policy: 'degrade', encode: m.encode, expect: m.expect, composeStage: m.composeStage }));
    }

    case 'relay_gave_up': {
      if (m.endAsked || m.mode !== 'mux') return none(m);
      const local: RunModel = {
        ...m, mode: 'local', carrier: 'none', muxPlaybackId: null,
        notes: [...m.notes, `Mux relay failed (${e.reason}); fell back to a reduced local ladder`],
      };
      const next = startLocal(local, e.source, planClass(e.source, m.channel, e.free, { muxAvailable: false, policy: 'degrade', encode: m.encode, expect: m.expect, composeStage: m.composeStage }));
      return { model: next.model, effects: [{ t: 'drop_relay' }, ...next.effects] };
    }

    case 'carrier_started':
      if (m.phase === 'ending' || m.phase === 'ended') return none(m);
      return {
        model: m.phase === 'starting' ? { ...m, phase: 'live' } : m,
        effects: [
          ...(m.mode === 'mux' ? [{ t: 'log', level: 'info', msg: 'class is live on Mux', fields: { channel: slug } } as const] : []),
          { t: 'announce', what: 'started' },
        ],
      };

    case 'claimed':
      return {
        model: { ...m, claimedBy: e.publisher },
        effects: [
          { t: 'clear_grace' },
          ...(e.how === 'takeover' ? [
            { t: 'log', level: 'warn', msg: 'a new publish takes over from a publisher that stopped sending', fields: { channel: slug, silentMs: e.silentMs } } as const,
            { t: 'kick', publisher: m.publisher } as const,
          ] : []),
        ],
      };

    case 'resume': {
      const { claimedBy: _, ...rest } = m;
      if (m.endAsked) return { model: rest, effects: [{ t: 'kick', publisher: e.publisher }] };
      const reconnects = m.reconnects + 1;
      const carried = m.carrier !== 'none';
      return {
        model: { ...rest, publisher: e.publisher, reconnects, phase: carried ? 'live' : 'starting' },
        effects: [
          { t: 'count_from', from: m.publisher, to: e.publisher },
          { t: 'follow', publisher: e.publisher },
          { t: 'save_reconnects', reconnects },
          { t: 'announce', what: 'live' },
          { t: 'log', level: 'info', msg: 'publisher reconnected; session continues', fields: { channel: slug, reconnects } },
          // A new publisher means new timestamps and codec headers: the outputs start again after a discontinuity.
          ...(carried ? [{ t: 'restart_outputs' } as const] : []),
        ],
      };
    }

    case 'dropped':
      if (e.publisher !== m.publisher || m.endAsked) return none(m);
      if (m.phase !== 'starting' && m.phase !== 'live') return none(m);
      return {
        model: { ...m, phase: 'reconnecting' },
        effects: [
          { t: 'snapshot_bytes' },
          { t: 'log', level: 'info', msg: 'publisher dropped; waiting for it to come back', fields: { channel: slug } },
          { t: 'clear_grace' },
          { t: 'arm_grace' },
          { t: 'announce', what: 'reconnecting' },
        ],
      };

    case 'publisher_ended':
      if (e.publisher !== m.publisher || m.phase === 'reconnecting') return none(m);
      return { model: m, effects: [{ t: 'request_end', reason: 'publisher left' }] };

    case 'end_asked':
      return { model: m.endAsked ? m : { ...m, endAsked: e.reason }, effects: [{ t: 'clear_grace' }] };

    case 'finish':
      if (m.phase === 'ended' || m.phase === 'ending') return none(m);
      return {
        model: { ...m, phase: 'ending' },
        effects: [{ t: 'clear_grace' }, { t: 'release_media' }, { t: 'stop_outputs' }, { t: 'close_outputs' }],
      };

    case 'outputs_closed': {
      if (m.phase !== 'ending') return none(m);
      const reason = m.endAsked ?? 'ended';
      const keep = m.channel.record && e.published;
      if (keep) return { model: m, effects: [{ t: 'close_session', reason }, { t: 'keep_recording' }] };
      const done = ended(m, false);
      return { model: done.model, effects: [{ t: 'close_session', reason }, ...done.effects] };
    }

    case 'kept':
      return m.phase === 'ending' ? ended(m, e.ok) : none(m);
  }
}

function ended(m: RunModel, recorded: boolean): Step {
  const reason = m.endAsked ?? 'ended';
  return {
    model: { ...m, phase: 'ended' },
    effects: [
      { t: 'log', level: 'info', msg: 'class ended', fields: { channel: m.channel.slug, reason, recorded } },
      { t: 'announce_ended', reason, recorded },
    ],
  };
}

function refuse(m: RunModel, reason: string): Step {
  return {
    model: m,
    effects: [
      { t: 'log', level: 'warn', msg: 'publish refused', fields: { channel: m.channel.slug, reason } },
      { t: 'kick', publisher: m.publisher },
      { t: 'request_end', reason: `refused: ${reason}` },
    ],
  };
}

function startLocal(m: RunModel, source: SourceInfo, decision: ClassPlan): Step {
  if (decision.kind === 'refuse') return refuse(m, m.elsewhere ? `${decision.reason}; ${m.elsewhere}` : decision.reason);
  if (decision.kind === 'mux') return none(m); // planClass never answers mux without Mux
  const notes = [...m.notes, ...(decision.note ? [decision.note] : []), ...(decision.top ? [decision.top.reason] : [])];
  return {
    model: { ...m, plan: decision.plan, carrier: 'local', notes },
    effects: [
      ...(decision.top ? [{ t: 'log', level: 'info', msg: 'top rung decided by cost', fields: { channel: m.channel.slug, reason: decision.top.reason } } as const] : []),
      { t: 'record_source', source: describeSource(source), ladder: decision.plan.rungs.map((r) => r.name), ...(decision.top ? { topRung: decision.top.reason } : {}) },
      { t: 'start_local', plan: decision.plan },
    ],
  };
}
