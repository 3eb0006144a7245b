// Captions: what a cue is and the rules for a channel's caption settings. Pure. A cue is timed in program time
// (wall-clock milliseconds of the picture it belongs to, as EXT-X-PROGRAM-DATE-TIME says it), never by the
// server's clock when it arrived: a captioner types about what they see, seconds behind the live edge.

import { ValidationError } from './errors.js';

/** `off`; `human`: a captioner (or the instructor) types them; `auto`: a speech engine hears the class (a captioner
 * may still type beside it). */
export const CAPTION_MODES = ['off', 'human', 'auto'] as const;
export type CaptionMode = (typeof CAPTION_MODES)[number];

export interface CaptionCue {
  id: string;
  /** Program time of the first word (epoch ms). */
  start: number;
  /** Program time the line leaves the screen (epoch ms). */
  end: number;
  text: string;
  /** BCP 47 language of the line, one of the channel's caption languages. */
  lang: string;
  /** The user who sent it. */
  by: string;
}

export const CAPTION_MAX_CHARS = 200;
/** How far from the receiving server's clock a cue's program time may be (a captioner's player is behind). */
export const CAPTION_MAX_SKEW_MS = 120_000;

/** How long a line stays on screen: a reading pace of about 160 words a minute, 1.5-7 s. */
export function cueDurationMs(text: string): number {
  const words = text.split(/\s+/).filter(Boolean).length;
  return Math.min(7000, Math.max(1500, 1000 + words * 380));
}

export function parseCaptionMode(input: string): CaptionMode {
  if (!(CAPTION_MODES as readonly string[]).includes(input)) {
    throw new ValidationError(`invalid captions ${JSON.stringify(input.slice(0, 40))}: expected one of ${CAPTION_MODES.join(', ')}`);
  }
  return input as CaptionMode;
}

const LANG = /^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$/;

/** "en,es" → ['en','es']: 1-4 BCP 47 tags, no duplicates. */
export function parseCaptionLanguages(input: string): string[] {
  const tags = [...new Set(input.split(',').map((s) => s.trim()).filter(Boolean))];
  if (tags.length === 0 || tags.length > 4 || tags.some((t) => !LANG.test(t))) {
    throw new ValidationError(`invalid caption languages ${JSON.stringify(input.slice(0, 60))}: 1-4 language tags like en or pt-BR, comma-separated`);
  }
  return tags;
}

/** The language's name in English for a player's menu (a few common ones; else the tag itself). */
export function languageName(tag: string): string {
  const names: Record<string, string> = {
    en: 'English', es: 'Spanish', fr: 'French', de: 'German', it: 'Italian', pt: 'Portuguese', nl: 'Dutch', pl: 'Polish',
    ar: 'Arabic', zh: 'Chinese', ja: 'Japanese', ko: 'Korean', hi: 'Hindi', ru: 'Russian', tr: 'Turkish', sv: 'Swedish',
  };
  const base = tag.split('-')[0]!;
  return names[base] ? (tag.includes('-') ? `${names[base]} (${tag.split('-')[1]})` : names[base]!) : tag;
}
