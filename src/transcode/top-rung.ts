// Pass the top rung through or encode it: encoding costs CPU once, passing through costs egress for every learner.
// Decided per class from the audience it expects, its length and the configured prices. Pure.

import type { EncodeProfile } from '../domain/channel.js';
import { PIXELS_PER_CORE } from './ladder.js';

/** What the encoded top rung sends per byte the publisher sends, by profile (bench/bitrate.mjs, docs/benchmarks.md:
 * 0.15–0.26 on a lecture with a fair to poor camera; about 1 on motion). Rounded up: the decision errs to passing. */
export const ENCODED_SHARE: Record<EncodeProfile, number> = { lecture: 0.3, motion: 1 };

const HOURS_PER_MONTH = 730;

export interface TopRungFacts {
  profile: EncodeProfile;
  /** What the publisher sends (kbit/s of video). */
  sourceKbps: number;
  width: number;
  height: number;
  fps: number;
  /** Learners expected, and where that number comes from. */
  audience: number;
  audienceFrom: 'roster' | 'past classes' | 'none';
  minutes: number;
  /** cost.cdnPerGb */
  cdnPerGb: number;
  /** cost.boxPerMonth */
  boxPerMonth: number;
  cores: number;
}

export interface TopRungDecision {
  encode: boolean;
  audience: number;
  audienceFrom: TopRungFacts['audienceFrom'];
  /** GB of egress encoding would save over the class. */
  savedGb: number;
  /** USD: that egress at cost.cdnPerGb, and the encode's share of the box. */
  egressSaved: number;
  cpuCost: number;
  /** The arithmetic in words. */
  arithmetic: string;
  /** The verdict and its arithmetic, for status, the studio's health and the class report. */
  reason: string;
}

const usd = (n: number): string => `$${n < 1 ? n.toFixed(3) : n.toFixed(2)}`;

export function decideTopRung(f: TopRungFacts): TopRungDecision {
  const savedKbps = Math.max(0, f.sourceKbps * (1 - ENCODED_SHARE[f.profile]));
  const savedGb = (f.audience * f.minutes * 60 * savedKbps * 1000) / 8 / 1e9;
  const egressSaved = savedGb * f.cdnPerGb;
  const cores = (f.width * f.height * f.fps) / PIXELS_PER_CORE;
  const corePerHour = f.boxPerMonth / (Math.max(1, f.cores) * HOURS_PER_MONTH);
  const cpuCost = cores * (f.minutes / 60) * corePerHour;
  const encode = savedGb > 0 && egressSaved > cpuCost;
  const arithmetic = f.audienceFrom === 'none'
    ? 'no audience known yet (no course roster, no past class on this channel)'
    : `${f.audience} learners expected (${f.audienceFrom}) × ${f.minutes} min: encoding saves ${savedGb.toFixed(1)} GB (${usd(egressSaved)} at ${usd(f.cdnPerGb)}/GB) for ${usd(cpuCost)} of CPU (${cores.toFixed(2)} core)`;
  const reason = `${encode ? 'top rung encoded' : 'top rung passed through'}: ${arithmetic}`;
  return { encode, audience: f.audience, audienceFrom: f.audienceFrom, savedGb, egressSaved, cpuCost, arithmetic, reason };
}
