// Capacity admission: how much of the box's transcode budget a new ladder may use. Pure.

import { availableParallelism } from 'node:os';
import type { Overflow } from '../domain/channel.js';

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
