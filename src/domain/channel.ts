// Pure rules for channel fields: what a valid slug, title, ladder or policy is.
// Used at every edge (CLI, REST) to parse input into typed values once.

import { ValidationError } from './errors.js';
import { SLUG_PATTERN } from './ids.js';
import type { CaptionMode } from './captions.js';

export const RUNGS = ['1080p', '720p', '480p', '360p', '240p'] as const;
export type RungName = (typeof RUNGS)[number];
export const LATENCIES = ['standard', 'low', 'ultra'] as const;
export type Latency = (typeof LATENCIES)[number];
export const OVERFLOWS = ['mux', 'degrade', 'refuse'] as const;
export type Overflow = (typeof OVERFLOWS)[number];
/** How the ladder spends its bits: `lecture` (slides, a talking head; the default) or `motion` (labs, sport). */
export const ENCODE_PROFILES = ['lecture', 'motion'] as const;
export type EncodeProfile = (typeof ENCODE_PROFILES)[number];

export interface Channel {
  id: number;
  slug: string;
  title: string;
  ladder: RungName[];
  latency: Latency;
  record: boolean;
  archive: boolean;
  overflow: Overflow;
  /** The encoding profile of its rungs (transcode/quality.ts). */
  profile: EncodeProfile;
  /** Learners may join the engagement hub with just a display name. */
  allowGuests: boolean;
  /** When the next class is scheduled to start (ISO time), shown in the waiting room. */
  startsAt: string | null;
  /** HLS and replays play without a playback token; private (false) by default. */
  public: boolean;
  /** Who captions its classes (`off` by default) and in which languages (the first is the default track). */
  captions: CaptionMode;
  captionLanguages: string[];
  createdAt: string;
  updatedAt: string;
}

const SLUG = SLUG_PATTERN;

export function parseSlug(input: string): string {
  if (!SLUG.test(input)) {
    throw new ValidationError(
      `invalid channel slug ${JSON.stringify(input.slice(0, 80))}: use 1-64 characters of a-z, 0-9 and -, not starting or ending with -`,
    );
  }
  return input;
}

export function parseTitle(input: string): string {
  const title = input.trim();
  if (title.length === 0 || title.length > 200 || /[\u0000-\u001f\u007f]/.test(title)) {
    throw new ValidationError('invalid title: use 1-200 printable characters');
  }
  return title;
}

/** "1080p,720p" → ['1080p','720p'], ordered highest first, without duplicates. */
export function parseLadder(input: string): RungName[] {
  const parts = input.split(',').map((p) => p.trim().toLowerCase()).filter((p) => p !== '');
  const bad = parts.filter((p) => !(RUNGS as readonly string[]).includes(p));
  if (parts.length === 0 || bad.length > 0) {
    throw new ValidationError(
      `invalid ladder ${JSON.stringify(input.slice(0, 80))}: use a comma-separated list of ${RUNGS.join(', ')}`,
    );
  }
  return RUNGS.filter((r) => parts.includes(r));
}

function oneOf<T extends string>(what: string, values: readonly T[], input: string): T {
  if (!(values as readonly string[]).includes(input)) {
    throw new ValidationError(`invalid ${what} ${JSON.stringify(input.slice(0, 40))}: expected one of ${values.join(', ')}`);
  }
  return input as T;
}

export const parseLatency = (input: string): Latency => oneOf('latency profile', LATENCIES, input);
export const parseOverflow = (input: string): Overflow => oneOf('overflow policy', OVERFLOWS, input);
export const parseEncodeProfile = (input: string): EncodeProfile => oneOf('encoding profile', ENCODE_PROFILES, input);

export function parseOnOff(what: string, input: string): boolean {
  const v = input.toLowerCase();
  if (['on', 'true', 'yes', '1'].includes(v)) return true;
  if (['off', 'false', 'no', '0'].includes(v)) return false;
  throw new ValidationError(`invalid ${what} ${JSON.stringify(input.slice(0, 40))}: expected on or off`);
}

/** "2026-11-24T14:00:00Z" (any form Date.parse accepts) → ISO time; "none" → null. */
export function parseStartsAt(input: string): string | null {
  if (input === 'none' || input === '') return null;
  const t = Date.parse(input);
  if (!Number.isFinite(t)) throw new ValidationError(`invalid start time ${JSON.stringify(input.slice(0, 40))}: use an ISO time like 2026-11-24T14:00:00Z, or none`);
  return new Date(t).toISOString();
}
