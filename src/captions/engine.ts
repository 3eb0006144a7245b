// Speech engines, the pure side: how an engine is run, what it answers and how its answers become caption lines.
//
// The engine protocol (docs/captions.md): an engine is a command. It reads the class's audio on stdin — 16 kHz,
// mono, signed 16-bit little-endian PCM, in real time, for as long as the class runs — and writes one JSON object
// per line on stdout for each phrase it recognised: {"text": "…", "start": 12.34, "end": 15.6} (seconds from its
// first sample), optionally with "words": [{"word": "…", "start": s, "end": s}, …]. Anything else it prints is
// ignored. The embedded default is Debian's pocketsphinx_continuous, whose own output this module translates.

/** A recognised phrase, seconds from the engine's first sample. */
export interface Phrase {
  text: string;
  start: number;
  end: number;
  words?: { word: string; start: number; end: number }[];
}

export interface EngineCommand {
  cmd: string;
  args: string[];
  /** How its stdout is read: the protocol's JSON lines, or pocketsphinx_continuous's own words. */
  output: 'json' | 'pocketsphinx';
  /** The audio goes to a named pipe whose path replaces the `{audio}` argument (a program that opens a path). */
  audioPath?: boolean;
}

/** The command for `captions.engine`: pocketsphinx (with an optional model folder) or the school's own command. */
export function engineCommand(o: { engine: 'pocketsphinx' | 'command'; command: string; pocketsphinxModel: string }): EngineCommand {
  if (o.engine === 'command') {
    const [cmd, ...args] = o.command.trim().split(/\s+/);
    if (!cmd) throw new Error('captions.engine is "command" but captions.engineCommand is empty');
    return { cmd, args, output: 'json' };
  }
  const model = o.pocketsphinxModel
    ? ['-hmm', `${o.pocketsphinxModel}/en-us`, '-lm', `${o.pocketsphinxModel}/en-us.lm.bin`, '-dict', `${o.pocketsphinxModel}/cmudict-en-us.dict`]
    : [];
  return { cmd: 'pocketsphinx_continuous', args: ['-infile', '{audio}', '-time', 'yes', '-logfn', '/dev/null', ...model], output: 'pocketsphinx', audioPath: true };
}

const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/** One line of the engine protocol, or undefined when the line is not a phrase (never throws). */
export function parseEngineLine(line: string): Phrase | undefined {
  if (!line.startsWith('{') || line.length > 20000) return undefined;
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof o !== 'object' || o === null) return undefined;
  const p = o as Record<string, unknown>;
  const text = typeof p.text === 'string' ? p.text.replace(/\s+/g, ' ').trim() : '';
  if (!text || !num(p.start) || !num(p.end) || p.end < p.start) return undefined;
  const words = Array.isArray(p.words)
    ? p.words.filter((w): w is { word: string; start: number; end: number } => typeof w === 'object' && w !== null
      && typeof (w as { word?: unknown }).word === 'string' && num((w as { start?: unknown }).start) && num((w as { end?: unknown }).end))
    : undefined;
  return { text: text.slice(0, 2000), start: p.start, end: p.end, ...(words?.length ? { words } : {}) };
}

const WORD_LINE = /^(\S+) (\d+\.\d+) (\d+\.\d+) (-?\d+(?:\.\d+)?)$/;

/** pocketsphinx_continuous -time yes: after each utterance, one line per word ("word start end prob") between <s>
 * and </s>. Fillers (<sil>, [NOISE], ++…++) are left out, alternates ("really(2)") named plainly. */
export class PocketsphinxParser {
  private words: { word: string; start: number; end: number }[] = [];

  push(line: string): Phrase | undefined {
    const m = WORD_LINE.exec(line.trim());
    if (!m) return undefined;
    const [, token, s, e] = m;
    if (token === '<s>') {
      this.words = [];
      return undefined;
    }
    if (token === '</s>') {
      const words = this.words;
      this.words = [];
      if (!words.length) return undefined;
      return { text: words.map((w) => w.word).join(' '), start: words[0]!.start, end: words[words.length - 1]!.end, words };
    }
    if (/^(<.*>|\[.*\]|\+\+.*\+\+)$/.test(token!)) return undefined;
    this.words.push({ word: token!.replace(/\(\d+\)$/, ''), start: Number(s), end: Number(e) });
    return undefined;
  }
}

/** A phrase as caption lines of at most `maxChars` (two short rows), cut between words by their times. Pure. */
export function phraseLines(p: Phrase, maxChars = 84): { text: string; start: number; end: number }[] {
  if (!p.words?.length || p.text.length <= maxChars) return [{ text: p.text, start: p.start, end: p.end }];
  const out: { text: string; start: number; end: number }[] = [];
  let cur: { word: string; start: number; end: number }[] = [];
  const flush = (): void => {
    if (cur.length) out.push({ text: cur.map((w) => w.word).join(' '), start: cur[0]!.start, end: cur[cur.length - 1]!.end });
    cur = [];
  };
  for (const w of p.words) {
    const len = cur.reduce((n, x) => n + x.word.length + 1, 0);
    if (cur.length && len + w.word.length > maxChars) flush();
    cur.push(w);
  }
  flush();
  return out;
}

/** Where a moment of the engine's audio is in program time. The ladder stamps its segments as ffmpeg does: the
 * wall clock when its output began, plus media time. The same here: the decoder's first sample is anchored to the
 * clock when it came out, every later sample is that plus its position; the engine's own samples map to the
 * decoder's through marks taken at each write (an engine restarted, or audio dropped for a slow one, shifts them). */
export class SampleClock {
  private anchor: number | undefined;
  private decodedSamples = 0;
  private engineSamples = 0;
  private marks: { engine: number; decoded: number }[] = [];

  constructor(private readonly rate = 16000, private readonly keep = 2000) {}

  /** `bytes` of s16le audio came out of the decoder at `at` (epoch ms). */
  decoded(bytes: number, at: number): void {
    const n = bytes / 2;
    this.anchor ??= at - (n / this.rate) * 1000;
    this.decodedSamples += n;
  }

  /** The last decoded chunk (`bytes`) went to the engine. */
  wrote(bytes: number): void {
    this.engineSamples += bytes / 2;
    this.marks.push({ engine: this.engineSamples, decoded: this.decodedSamples });
    if (this.marks.length > this.keep) this.marks.splice(0, this.marks.length - this.keep);
  }

  /** A new engine run hears from here on: its second 0 is the next sample. */
  engineStarted(): void {
    this.engineSamples = 0;
    this.marks = [];
  }

  /** A new ladder run (the class resumed): a new anchor. */
  reset(): void {
    this.anchor = undefined;
    this.decodedSamples = 0;
    this.engineStarted();
  }

  /** Epoch ms of a time `seconds` into the current engine run's audio. */
  at(seconds: number): number {
    const s = seconds * this.rate;
    const m = this.marks.find((x) => x.engine >= s) ?? this.marks[this.marks.length - 1];
    const decoded = m ? m.decoded - (m.engine - s) : s;
    return (this.anchor ?? Date.now()) + (decoded / this.rate) * 1000;
  }
}
