// Capacity admission and planning, in one place: how much of the box's transcode budget a class may use, and
// what carries it (full ladder, reduced ladder, Mux, refusal). Pure.

import { availableParallelism } from 'node:os';
import type { Channel, Overflow } from '../domain/channel.js';
import { planLadder, pixelRate, PIXELS_PER_CORE, type LadderPlan, type SourceInfo } from '../transcode/ladder.js';
import { encodeQuality, type EncodeQuality } from '../transcode/quality.js';
import { decideTopRung, type TopRungDecision, type TopRungFacts } from '../transcode/top-rung.js';

export { PIXELS_PER_CORE } from '../transcode/ladder.js';

export function defaultBudget(configured: number, cores = availableParallelism()): number {
  return configured > 0 ? configured : cores * PIXELS_PER_CORE;
}

export type AdmissionDecision =
  | { kind: 'full'; budget: number }
  | { kind: 'degrade'; budget: number; note: string }
  | { kind: 'refuse'; reason: string };

/**
 * What a channel may use given what is free. `needed` is the full ladder's pixel rate, `smallest` the cheapest
 * rung alone.
 */
export function admit(policy: Overflow, free: number, needed: number, smallest: number): AdmissionDecision {
  if (needed <= free) return { kind: 'full', budget: free };
  if (policy === 'refuse') return { kind: 'refuse', reason: 'the box is at its transcode capacity (overflow policy: refuse)' };
  if (smallest > free) return { kind: 'refuse', reason: 'the box is at its transcode capacity: not even the smallest rung fits' };
  const note = policy === 'mux'
    ? 'box full: ladder reduced (Mux is not configured, so the degrade policy applies)'
    : 'box full: ladder reduced (overflow policy: degrade)';
  return { kind: 'degrade', budget: free, note };
}

/** Segment length by latency mode (seconds). */
export const SEGMENT_SECONDS = { standard: 2, low: 1, ultra: 1 } as const;

/** What carries a class once its source is known: the local ladder (maybe reduced), Mux, or nothing. */
/** What the shell knows before planning: the audience a class expects, its length and the prices. */
export type Expectation = Omit<TopRungFacts, 'profile' | 'sourceKbps' | 'width' | 'height' | 'fps'>;

export type ClassPlan =
  | { kind: 'local'; plan: LadderPlan; note?: string; top?: TopRungDecision }
  | { kind: 'mux' }
  | { kind: 'refuse'; reason: string };

/**
 * The one place a class's capacity is planned: the full ladder for this source if it fits what is free, else what
 * the channel's overflow policy says (Mux when it is configured, a reduced ladder, or a refusal). Pure.
 * `policy` overrides the channel's (a class that falls back from Mux degrades).
 */
export function planClass(
  source: SourceInfo,
  channel: Pick<Channel, 'ladder' | 'latency' | 'overflow'>,
  free: number,
  opts: { muxAvailable: boolean; policy?: Overflow; encode?: EncodeQuality; expect?: Expectation; composeStage?: boolean | undefined },
): ClassPlan {
  const policy = opts.policy ?? channel.overflow;
  const segmentSeconds = SEGMENT_SECONDS[channel.latency];
  const encode = opts.encode ?? encodeQuality('lecture');
  // The stage's picture is laid over the video: a passed-through top rung could not show it, so none is.
  const encodeTop = opts.composeStage === true;
  const passed = planLadder(source, { profile: channel.ladder, segmentSeconds, encode, encodeTop });
  const top = encodeTop ? composedTop(source, channel, segmentSeconds, encode, opts.expect) : topRung(source, passed, encode, opts.expect);
  // Encoding the top rung is worth its CPU only if the box has it: else the top rung is passed through as before.
  const encoded = top?.encode ? planLadder(source, { profile: channel.ladder, segmentSeconds, encode, encodeTop: true }) : undefined;
  const affordable = encoded && pixelRate(encoded.rungs) <= free ? encoded : undefined;
  const full = affordable ?? passed;
  const topNote = top && (top.encode && !affordable ? { ...top, encode: false, reason: `top rung passed through: encoding it does not fit the transcode budget (${top.arithmetic})` } : top);
  const smallest = full.rungs.length ? pixelRate(full.rungs.slice(-1)) : 0;
  const decision = admit(policy, free, pixelRate(full.rungs), smallest);
  if (decision.kind === 'full') return { kind: 'local', plan: full, ...(topNote ? { top: topNote } : {}) };
  if (policy === 'mux' && opts.muxAvailable) return { kind: 'mux' };
  if (decision.kind === 'refuse') return decision;
  const plan = planLadder(source, { profile: channel.ladder, segmentSeconds, budget: decision.budget, encode, encodeTop });
  return { kind: 'local', plan, note: `${decision.note}; dropped ${plan.dropped.join(', ')}` };
}

/** The pass-through-or-encode decision, when the source's top rung could be passed through and the shell said what
 * it expects; undefined otherwise (nothing to decide: the top rung is encoded anyway, or nothing is known). */
function topRung(source: SourceInfo, passed: LadderPlan, encode: EncodeQuality, expect: Expectation | undefined): TopRungDecision | undefined {
  const top = passed.rungs[0];
  if (!expect || !top?.copy) return undefined;
  return decideTopRung({ ...expect, profile: encode.profile, sourceKbps: source.videoKbps ?? top.videoKbps, width: top.width, height: top.height, fps: top.fps });
}

/** With the stage's picture composed, the top rung is encoded whatever the arithmetic says; the decision says so
 * (and what passing it through would have been) when the source could have been passed through. */
function composedTop(source: SourceInfo, channel: Pick<Channel, 'ladder'>, segmentSeconds: number, encode: EncodeQuality, expect: Expectation | undefined): TopRungDecision | undefined {
  const top = topRung(source, planLadder(source, { profile: channel.ladder, segmentSeconds, encode }), encode, expect);
  return top && { ...top, encode: true, reason: `top rung encoded: the stage's picture is laid over it (stage.picture); ${top.arithmetic}` };
}

/** Whether a new class may even begin (before its source is known): a box with nothing free refuses at once. */
export function refusesAtOnce(policy: Overflow, free: number): string | undefined {
  return free <= 0 && policy === 'refuse' ? 'the box is at its transcode capacity (overflow policy: refuse)' : undefined;
}
