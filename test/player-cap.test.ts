// The watch page fetches only what it shows: a phone-sized player never fetches the top rung's segments, a desktop
// one does; data saver (the menu, or the browser's Save-Data) keeps to the lowest rung. Real server, ffmpeg, Chromium.
import t from 'tap';
import { signJoinToken } from '../src/auth/join-token.js';
import { loadJoinSecret } from '../src/auth/join-secret.js';
import { launch } from './helpers/browser.js';
import { push, startTestServer, waitFor } from './helpers/server.js';
import { testdir } from './helpers/testdir.js';

const ts = await startTestServer(testdir(t));
t.teardown(() => ts.server.stop());
const browser = await launch();
t.teardown(() => browser.close());
const token = (sub: string) => signJoinToken({ sub, name: `Learner ${sub}`, role: 'learner', channel: 'sizes', exp: Math.floor(Date.now() / 1000) + 3600 },
  loadJoinSecret('', ts.server.config['paths.data']));
const { key } = ts.createChannel('sizes', { ladder: ['720p', '360p'], record: false });
const pub = push(ts.rtmp(key), { seconds: 90, size: '1280x720' });
t.teardown(() => pub.kill('SIGKILL'));
await waitFor('the master playlist', async () => (await ts.get('/hls/sizes/master.m3u8')).status === 200, 40000);

/** Opens the watch page at a size and counts the media segments it fetches per rung. */
async function watch(width: number, height: number, init?: () => void) {
  const page = await browser.newPage({ width, height });
  if (init) await page.addInitScript(init);
  const fetched: Record<string, number> = {};
  page.on('request', (r) => {
    const m = /\/hls\/sizes\/([\w-]+)\/[^/?]+\.ts/.exec(r.url());
    if (m) fetched[m[1]!] = (fetched[m[1]!] ?? 0) + 1;
  });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${ts.base}/watch/sizes?token=${token(`u${width}`)}`);
  await page.waitForFunction(() => (document.querySelector('video')?.currentTime ?? 0) > 6, undefined, { timeout: 40000 });
  return { page, fetched, errors };
}

t.test('a phone-sized player never fetches the top rung', async (t) => {
  const { page, fetched, errors } = await watch(390, 844);
  t.teardown(() => page.close());
  t.equal(await page.getAttribute('.player', 'data-cap'), '360p', 'capped to the rung its box needs');
  t.ok((fetched['360p'] ?? 0) >= 3, `360p segments fetched: ${fetched['360p']}`);
  t.equal(fetched['720p'] ?? 0, 0, 'no 720p segment');
  t.same(errors, []);
});

t.test('a desktop player fetches the top rung; data saver goes back to the lowest', async (t) => {
  const { page, fetched, errors } = await watch(1280, 800);
  t.teardown(() => page.close());
  t.equal(await page.getAttribute('.player', 'data-cap'), '720p');
  await waitFor('a 720p segment', () => (fetched['720p'] ?? 0) > 0 || undefined, 20000);
  t.pass(`720p segments fetched: ${fetched['720p']}`);
  t.same(await page.$$eval('select.quality option', (os) => os.map((o) => o.textContent)), ['Auto', '720p', '360p', 'Data saver', 'Audio only']);
  await page.selectOption('select.quality', { label: 'Data saver' });
  t.equal(await page.getAttribute('.player', 'data-cap'), '360p', 'data saver: capped to the lowest rung');
  t.same(errors, []);
});

t.test('the browser\'s Save-Data starts the player in data saver', async (t) => {
  const { page, fetched } = await watch(1280, 800, () => {
    Object.defineProperty(navigator, 'connection', { value: { saveData: true }, configurable: true });
  });
  t.teardown(() => page.close());
  t.equal(await page.$eval('select.quality', (s) => (s as HTMLSelectElement).value), 'saver');
  t.equal(await page.getAttribute('.player', 'data-cap'), '360p');
  t.equal(fetched['720p'] ?? 0, 0, 'no 720p segment');
});

t.test('"Audio only" plays the audio-only rendition and fetches no picture; choosing a rung brings the picture back', async (t) => {
  const { page, fetched, errors } = await watch(390, 844);
  t.teardown(() => page.close());
  await page.selectOption('select.quality', { label: 'Audio only' });
  await page.waitForFunction(() => document.querySelector('.player')?.classList.contains('listening') && (document.querySelector('video')?.currentTime ?? 0) > 1,
    undefined, { timeout: 30000 });
  const videoSegments = (fetched['360p'] ?? 0) + (fetched['720p'] ?? 0);
  const at = await page.$eval('video', (v) => (v as HTMLVideoElement).currentTime);
  await page.waitForFunction((t0) => (document.querySelector('video')?.currentTime ?? 0) > t0 + 4, at, { timeout: 30000 });
  const state = await page.$eval('video', (v) => {
    const video = v as HTMLVideoElement;
    return { error: video.error?.code ?? null, width: video.videoWidth, paused: video.paused };
  });
  t.match(state, { error: null, width: 0, paused: false }, 'audio advances, no picture, no media error');
  t.ok((fetched['audio-only'] ?? 0) >= 2, `audio-only segments fetched: ${fetched['audio-only']}`);
  t.equal((fetched['360p'] ?? 0) + (fetched['720p'] ?? 0), videoSegments, 'no video segment while listening');
  t.equal(await page.$eval('select.quality', (s) => (s as HTMLSelectElement).value), 'audio', 'the menu says so');
  t.same(await page.evaluate(() => (window as unknown as { kmk: { levels(): string[] } }).kmk.levels()), ['audio']);
  await page.selectOption('select.quality', { label: '360p' });
  await page.waitForFunction(() => (document.querySelector('video')?.videoWidth ?? 0) > 0, undefined, { timeout: 30000 });
  t.notOk(await page.$eval('.player', (p) => p.classList.contains('listening')), 'the picture is back');
  t.equal(await page.$eval('select.quality', (s) => (s as HTMLSelectElement).selectedOptions[0]?.textContent), '360p', 'on the rung chosen');
  t.same(errors, []);
});
