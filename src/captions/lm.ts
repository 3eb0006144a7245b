// A language model from a class's own material (slide text, course vocabulary) for the speech engine: word pairs
// and words counted in the text, with a base of common English words so ordinary speech still has words to
// land on, written as an ARPA bigram model pocketsphinx reads (-lm). Pure: text and dictionary words in, text out.
// Absolute discounting (D = 0.5) with back-off to add-½ unigrams.

/** Words of everyday classroom English that any lecture uses, whatever its subject. */
export const COMMON_WORDS = (
  'a about after again all also an and any are as at back be because been before being between both but by can ' +
  'come could day do does down each even every first for from get give go going good great had has have he her ' +
  'here him his how i if in into is it its just know last let like look make many me more most much my need new ' +
  'next no not now number of off on one only or other our out over part people please question right same say ' +
  'see she should show so some still such take than that the their them then there these they thing think this ' +
  'those through time to today two up us use very want was way we week well were what when where which while who ' +
  'why will with word work would write yes you your three four five remember example answer class lesson chapter ' +
  'page hello thank thanks okay'
).split(' ');

const tokens = (text: string): string[] => text.toLowerCase().replace(/[^a-z' ]+/g, ' ').split(/\s+/).filter(Boolean);

export function arpaFromText(text: string, dictionary: ReadonlySet<string>, common: readonly string[] = COMMON_WORDS): { arpa: string; words: number; missing: string[] } {
  const sentences = text.split(/[.!?\n]+/).map(tokens).filter((s) => s.length);
  const missing = new Set<string>();
  for (const s of sentences) for (const w of s) if (!dictionary.has(w)) missing.add(w);
  const known = (w: string): boolean => dictionary.has(w);
  const uni = new Map<string, number>();
  const bi = new Map<string, Map<string, number>>();
  const add = (a: string, b: string): void => {
    const m = bi.get(a) ?? new Map<string, number>();
    m.set(b, (m.get(b) ?? 0) + 1);
    bi.set(a, m);
  };
  for (const w of common) if (known(w)) uni.set(w, (uni.get(w) ?? 0) + 1);
  for (const s of sentences) {
    const seq = ['<s>', ...s.filter(known), '</s>'];
    for (let i = 0; i < seq.length; i += 1) {
      uni.set(seq[i]!, (uni.get(seq[i]!) ?? 0) + (seq[i] === '<s>' ? 0 : 1));
      if (i > 0) add(seq[i - 1]!, seq[i]!);
    }
  }
  uni.set('<s>', uni.get('<s>') ?? 0);
  uni.set('</s>', Math.max(1, uni.get('</s>') ?? 0));
  const total = [...uni.values()].reduce((n, c) => n + c, 0);
  const V = uni.size;
  const pUni = new Map([...uni].map(([w, c]) => [w, (c + 0.5) / (total + 0.5 * V)]));
  const D = 0.5;
  const lines1: string[] = [];
  const lines2: string[] = [];
  const log = (p: number): string => Math.log10(p).toFixed(4);
  for (const [w] of uni) {
    const next = bi.get(w);
    let back = '';
    if (next && next.size) {
      const count = [...next.values()].reduce((n, c) => n + c, 0);
      let seenMass = 0;
      let seenUni = 0;
      for (const [b, c] of next) {
        const p = (c - D) / count;
        seenMass += p;
        seenUni += pUni.get(b)!;
        lines2.push(`${log(p)} ${w} ${b}`);
      }
      back = ` ${log(Math.max(1e-9, (1 - seenMass) / Math.max(1e-9, 1 - seenUni)))}`;
    }
    lines1.push(`${w === '<s>' ? '-99.0000' : log(pUni.get(w)!)} ${w}${back}`);
  }
  const arpa = ['\\data\\', `ngram 1=${lines1.length}`, `ngram 2=${lines2.length}`, '', '\\1-grams:', ...lines1, '', '\\2-grams:', ...lines2, '', '\\end\\', ''].join('\n');
  return { arpa, words: V, missing: [...missing].sort() };
}

/** The words of a pocketsphinx dictionary ("word PH ON ES" lines; "word(2)" alternates named plainly). */
export function dictionaryWords(dict: string): Set<string> {
  const out = new Set<string>();
  for (const line of dict.split('\n')) {
    const w = line.slice(0, line.indexOf(' ')).replace(/\(\d+\)$/, '');
    if (w) out.add(w);
  }
  return out;
}
