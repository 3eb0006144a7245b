// Capacity admission and planning, in one place: how much of the box's transcode budget a class may use, and
// what carries it (full ladder, reduced ladder, Mux, refusal). Pure.

import { availableParallelism } from 'node:os';
import type { Channel, Overflow } from '../domain/channel.js';
import { planLadder, pixelRate, type LadderPlan, type SourceInfo } from '../transcode/ladder.js';
import type { EncodeQuality } from '../transcode/quality.js';

/** Encoded pixels per second one core sustains with x264 veryfast, measured on the reference box. */
export const PIXELS_PER_CORE = 40_000_000;

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
export type ClassPlan =
  | { kind: 'local'; plan: LadderPlan; note?: string }
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
  opts: { muxAvailable: boolean; policy?: Overflow; encode?: EncodeQuality },
): ClassPlan {
  const policy = opts.policy ?? channel.overflow;
  const segmentSeconds = SEGMENT_SECONDS[channel.latency];
  const full = planLadder(source, { profile: channel.ladder, segmentSeconds, encode: opts.encode });
  const smallest = full.rungs.length ? pixelRate(full.rungs.slice(-1)) : 0;
  const decision = admit(policy, free, pixelRate(full.rungs), smallest);
  if (decision.kind === 'full') return { kind: 'local', plan: full };
  if (policy === 'mux' && opts.muxAvailable) return { kind: 'mux' };
  if (decision.kind === 'refuse') return decision;
  const plan = planLadder(source, { profile: channel.ladder, segmentSeconds, budget: decision.budget, encode: opts.encode });
  return { kind: 'local', plan, note: `${decision.note}; dropped ${plan.dropped.join(', ')}` };
}

/** Whether a new class may even begin (before its source is known): a box with nothing free refuses at once. */
export function refusesAtOnce(policy: Overflow, free: number): string | undefined {
  return free <= 0 && policy === 'refuse' ? 'the box is at its transcode capacity (overflow policy: refuse)' : undefined;
}
