// The largest rung a player needs for its box: table tests of the pure rule the watch page and bench/bitrate use.
import t from 'tap';
import { MAX_PIXEL_RATIO, pickRung, rungCap } from '../src/domain/rung-choice.js';

const ladder = [
  { name: '720p', width: 1280, height: 720 },
  { name: '480p', width: 854, height: 480 },
  { name: '360p', width: 640, height: 360 },
  { name: '240p', width: 426, height: 240 },
];

t.test('the smallest rung at least as wide as the box in device pixels', async (t) => {
  const cases: [string, number, number, string][] = [
    ['phone portrait at 3x (counted as 2x)', 390, 3, '480p'],
    ['phone at 1x', 390, 1, '240p'],
    ['small card at 1x', 300, 1, '240p'],
    ['course page iframe', 880, 1, '720p'],
    ['iframe exactly 854 wide', 854, 1, '480p'],
    ['laptop full screen', 1440, 1, '720p'],
    ['4k monitor at 2x', 1920, 2, '720p'],
    ['tablet 768 at 2x', 768, 2, '720p'],
    ['zero width (hidden player)', 0, 1, '240p'],
    ['a pixel ratio below 1 counts as 1', 600, 0.5, '360p'],
  ];
  for (const [what, width, dpr, want] of cases) t.equal(pickRung(ladder, { width, dpr }).name, want, what);
  t.equal(MAX_PIXEL_RATIO, 2);
});

t.test('any order of rungs; none gives -1', async (t) => {
  const shuffled = [ladder[2]!, ladder[0]!, ladder[3]!, ladder[1]!];
  t.equal(shuffled[rungCap(shuffled, { width: 700, dpr: 1 })]!.name, '480p');
  t.equal(rungCap([], { width: 700, dpr: 1 }), -1);
});
