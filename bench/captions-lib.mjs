// The bench's lecture (what espeak-ng reads), the slide text a teacher would show with it (for a language model
// from the class's material), and the word error rate.

export const LECTURE = [
  'Good morning everyone and welcome back to biology.',
  'Today we are going to talk about photosynthesis.',
  'Photosynthesis is the process that plants use to make their own food.',
  'Plants take in carbon dioxide from the air and water from the soil.',
  'Using the energy of sunlight they turn these into sugar and oxygen.',
  'This happens inside small green structures called chloroplasts.',
  'The green color comes from a pigment called chlorophyll.',
  'Chlorophyll absorbs red and blue light and reflects green light.',
  'The first stage is called the light dependent reactions.',
  'In this stage water molecules are split and oxygen is released.',
  'The second stage is called the Calvin cycle.',
  'In the Calvin cycle carbon dioxide is turned into glucose.',
  'Please write down these two stages in your notebook.',
  'Next week we will look at cellular respiration.',
];

/** The same lecture's slides: its terms and facts in note form, not its sentences. */
export const SLIDES = [
  'Photosynthesis',
  'Where: chloroplasts. The pigment chlorophyll absorbs red and blue light and reflects green light',
  'Inputs: carbon dioxide from the air, water from the soil, energy from sunlight',
  'Outputs: glucose (sugar) and oxygen',
  'Stage one: the light dependent reactions. Water molecules are split and oxygen is released',
  'Stage two: the Calvin cycle. Carbon dioxide becomes glucose',
  'Next week: cellular respiration',
].join('\n');

export const words = (s) => s.toLowerCase().replace(/[^a-z' ]+/g, ' ').split(/\s+/).filter(Boolean);

/** Word error rate: (substitutions + deletions + insertions) / reference words, by edit distance over words. */
export function wer(reference, hypothesis) {
  const r = words(reference);
  const h = words(hypothesis);
  let prev = Array.from({ length: h.length + 1 }, (_, j) => j);
  for (let i = 1; i <= r.length; i += 1) {
    const cur = [i];
    for (let j = 1; j <= h.length; j += 1) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r[i - 1] === h[j - 1] ? 0 : 1));
    prev = cur;
  }
  return { wer: prev[h.length] / r.length, ref: r.length, hyp: h.length };
}

