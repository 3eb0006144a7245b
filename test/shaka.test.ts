import t from 'tap';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';
import { launch } from './helpers/browser.js';
import { push, startTestServer, waitFor } from './helpers/server.js';
import { testdir } from './helpers/testdir.js';

// A player we did not write: Shaka Player (npm shaka-player, served to the page from node_modules) plays an `ultra`
// (LL-HLS) and a `low` class in Chromium, beside the hls.js tests of ll-live.test.ts.

const shakaJs = readFileSync(createRequire(import.meta.url).resolve('shaka-player/dist/shaka-player.compiled.debug.js'));
const ts = await startTestServer(testdir(t));
t.teardown(() => ts.server.stop());
const browser = await launch();
t.teardown(() => browser.close());

const PAGE = `<!doctype html><meta charset="utf-8"><video id="v" muted autoplay playsinline width="640"></video>
<script src="/__shaka/shaka.js"></script>
<script>
window.kmk = { errors: [], events: [] };
shaka.polyfill.installAll();
const player = new shaka.Player();
window.player = player;
player.addEventListener('error', (e) => window.kmk.errors.push(String(e.detail && (e.detail.code + ' ' + JSON.stringify(e.detail.data).slice(0, 300)))));
async function start(url, lowLatency) {
  await player.attach(document.getElementById('v'));
  player.configure({ streaming: { lowLatencyMode: lowLatency } });
  try { await player.load(url); window.kmk.events.push('loaded'); }
  catch (e) { window.kmk.errors.push('load: ' + (e.code || '') + ' ' + (e.message || '') + ' ' + JSON.stringify(e.data || []).slice(0, 400)); }
}
</script>`;

async function shakaPage(): Promise<Page> {
  const page = await browser.newPage({ width: 1280, height: 800 });
  await page.route(`${ts.base}/__shaka/**`, (route) => {
    const url = new URL(route.request().url());
    if (url.pathname.endsWith('shaka.js')) return route.fulfill({ body: shakaJs, contentType: 'text/javascript' });
    return route.fulfill({ body: PAGE, contentType: 'text/html' });
  });
  return page;
}

for (const latency of ['ultra', 'low'] as const) {
  t.test(`Shaka Player plays a ${latency} class from its first seconds`, async (t) => {
    const slug = `shaka-${latency}`;
    const { key } = ts.createChannel(slug, { latency, ladder: ['360p', '240p'], record: false });
    const pub = push(ts.rtmp(key), { seconds: 90, size: '640x360', gop: 30 });
    t.teardown(() => pub.kill('SIGKILL'));
    // Load as soon as the master exists: the moment a waiting room of learners starts playing.
    await waitFor('the master playlist', async () => (await ts.get(`/hls/${slug}/master.m3u8`)).status === 200, 30000, 50);
    const page = await shakaPage();
    t.teardown(() => page.close());
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${ts.base}/__shaka/player.html`);
    await page.evaluate(([u, ll]) => (window as unknown as { start(u: string, ll: boolean): Promise<void> }).start(u, ll),
      [`${ts.base}/hls/${slug}/master.m3u8`, latency === 'ultra'] as [string, boolean]);
    const state = () => page.evaluate(() => {
      const v = document.getElementById('v') as HTMLVideoElement;
      const w = window as unknown as { kmk: { errors: string[]; events: string[] }; player: { getConfiguration(): { streaming: { lowLatencyMode: boolean } }; getPlayheadTimeAsDate(): Date | null } };
      return { time: v.currentTime, errors: w.kmk.errors, events: w.kmk.events, lowLatency: w.player.getConfiguration().streaming.lowLatencyMode, behind: ((at) => (at ? (Date.now() - at.getTime()) / 1000 : NaN))(w.player.getPlayheadTimeAsDate()) };
    });
    const s = await waitFor('Shaka to play 4 s', async () => { const v = await state(); return v.errors.length || v.time > 4 ? v : undefined; }, 30000);
    t.same(s.errors, [], 'no player error');
    t.same(pageErrors, [], 'no page error');
    t.same(s.events, ['loaded']);
    t.ok(s.time > 4, `playing (${s.time.toFixed(1)} s)`);
    t.equal(s.lowLatency, latency === 'ultra', 'low-latency mode as configured');
    // The playhead's program date time against the clock (a lower bound of glass to glass: bench:latency measures that).
    t.ok(s.behind >= 0 && s.behind < (latency === 'ultra' ? 5 : 15), `playhead ${s.behind.toFixed(2)} s behind the program date time of now`);
  });
}
