// Going live from the studio in real Chromium with a fake camera and microphone (the browser's own, from
// --use-fake-device-for-media-stream): pickers and level meter, Go live over WHIP into the real server, a learner's
// watch page in a second browser plays it, the screen + camera switch while live, mute, End class, the replay. And
// the message when the browser is refused the camera. Screenshots at 1280 and 390 px are kept (tap --save-fixture).

import t from 'tap';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { signJoinToken } from '../src/auth/join-token.js';
import { loadJoinSecret } from '../src/auth/join-secret.js';
import type { Role } from '../src/domain/roles.js';
import { launch } from './helpers/browser.js';
import { ffprobe, startTestServer, waitFor } from './helpers/server.js';
import { testdir } from './helpers/testdir.js';

const FAKE_MEDIA = ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', '--auto-select-desktop-capture-source=Entire screen'];

const dir = testdir(t);
const ts = await startTestServer(dir);
t.teardown(() => ts.server.stop());
const secret = loadJoinSecret('', ts.server.config['paths.data']);
const token = (sub: string, role: Role): string =>
  signJoinToken({ sub, name: sub === 'prof' ? 'Prof. Byron' : `Learner ${sub}`, role, channel: 'bio', exp: Math.floor(Date.now() / 1000) + 3600 }, secret);
ts.createChannel('bio', { ladder: ['360p', '240p'], public: false });

const shots = join(dir, 'screenshots');
const status = (page: Page): Promise<string> => page.locator('.golive-status').innerText();

t.test('go live from the studio', async (t) => {
  const teacher = await launch(FAKE_MEDIA);
  t.teardown(() => teacher.close());
  const page = await teacher.newPage({ width: 1280, height: 900 });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('dialog', (d) => void d.accept());
  await page.goto(`${ts.base}/studio/bio?token=${token('prof', 'instructor')}`);
  await page.getByRole('button', { name: 'Turn on camera and microphone' }).click();
  await page.waitForFunction(() => document.querySelectorAll('select[aria-label=camera] option').length > 0);
  t.ok(await page.locator('select[aria-label=camera] option').count() > 0, 'the camera picker lists the camera');
  t.ok(await page.locator('select[aria-label=microphone] option').count() > 0, 'the microphone picker lists the microphone');
  await page.waitForFunction(() => (document.querySelector('.golive-preview') as HTMLVideoElement).videoWidth === 1280);
  t.pass('the preview shows the 1280×720 picture that will leave the browser');
  // The fake microphone beeps once a second: the meter must move.
  const peak = await page.evaluate(() => new Promise<number>((resolve) => {
    let max = 0;
    const timer = setInterval(() => { max = Math.max(max, Number(document.querySelector('.level')!.getAttribute('aria-valuenow'))); }, 20);
    setTimeout(() => { clearInterval(timer); resolve(max); }, 2500);
  }));
  t.ok(peak > 5, `the level meter moves with the microphone (peak ${peak})`);
  await page.screenshot({ path: join(shots, 'golive-ready-1280.png'), fullPage: true });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.screenshot({ path: join(shots, 'golive-ready-dark-1280.png') });
  await page.emulateMedia({ colorScheme: 'light' });

  await page.getByRole('button', { name: 'Go live' }).click();
  await waitFor('the class to be live', () => ts.server.live.current('bio')?.state === 'live', 30000);
  t.match(await status(page), /You are live/);
  const session = ts.server.live.current('bio')!.sessionId;
  t.match(ts.server.store.sessions.get(session).source, { codec: 'vp8', width: 1280, height: 720, audioCodec: 'opus', ingest: 'whip' });

  // A learner in another browser watches it.
  const learner = await launch();
  t.teardown(() => learner.close());
  const watch = await learner.newPage({ width: 390, height: 844 });
  await watch.goto(`${ts.base}/watch/bio?token=${token('l1', 'learner')}`);
  await watch.waitForFunction(() => { const v = document.querySelector('video'); return !!v && v.currentTime > 2; }, undefined, { timeout: 40000 });
  t.pass('the learner\'s watch page plays the class');

  // Screen + camera while live: the same session goes on.
  await page.getByRole('button', { name: 'Screen + camera' }).click();
  await page.waitForFunction(() => document.querySelector('[data-mode=both]')?.getAttribute('aria-pressed') === 'true', undefined, { timeout: 10000 });
  t.match(await status(page), /screen with the camera/);
  const before = ts.server.live.snapshot().channels.length;
  await page.waitForTimeout(3000);
  t.equal(ts.server.live.current('bio')?.sessionId, session, 'the class goes on through the switch');
  t.equal(ts.server.store.sessions.get(session).reconnects, 0, 'no reconnect: one video track, recomposed');
  t.equal(before, 1);
  await page.screenshot({ path: join(shots, 'golive-both-1280.png'), fullPage: true });
  const played = await watch.evaluate(() => document.querySelector('video')!.currentTime);
  await watch.waitForFunction((p) => document.querySelector('video')!.currentTime > p + 2, played, { timeout: 20000 });
  t.pass('the learner keeps playing after the switch');
  await page.getByRole('button', { name: 'Camera', exact: true }).click();


  await page.getByRole('button', { name: 'Mute microphone' }).click();
  t.equal(await page.getByRole('button', { name: 'Unmute microphone' }).getAttribute('aria-pressed'), 'true', 'mute is a pressed toggle');
  t.match(await status(page), /muted/);

  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: join(shots, 'golive-live-390.png'), fullPage: true });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.screenshot({ path: join(shots, 'golive-live-dark-390.png'), fullPage: true });
  await page.emulateMedia({ colorScheme: 'light' });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  t.equal(overflow, 0, 'no sideways scrolling at 390 px');
  await page.setViewportSize({ width: 1280, height: 900 });

  await page.getByRole('button', { name: 'End class' }).click();
  await waitFor('the class to end', () => ts.server.live.current('bio') === undefined, 20000);
  t.match(await status(page), /class has ended/);
  t.match(ts.server.store.sessions.get(session), { endReason: 'publisher left', recorded: true });
  const play = await (await ts.get(`/api/sessions/${session}/replay`, { Authorization: `Bearer ${token('l1', 'learner')}` })).json() as { url: string };
  // What a player reads: the recording's rendition playlist, closed, its segments adding up to the class.
  const rendition = await (await fetch(new URL(play.url.replace('master.m3u8', '360p/index.m3u8'), ts.base))).text();
  t.match(rendition, /#EXT-X-ENDLIST/, 'the replay playlist is closed');
  const seconds = [...rendition.matchAll(/#EXTINF:([\d.]+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
  t.ok(seconds > 8, `the replay holds the class (${seconds.toFixed(1)} s)`);
  const probe = await ffprobe(new URL(play.url, ts.base).href);
  t.ok(probe.streams.some((s) => s.codec_type === 'video' && s.codec_name === 'h264'), 'the replay is H.264');
  // The studio's wrap-up links the learner page to the replay (?replay=<session>): it offers it, a click plays it.
  await watch.goto(`${ts.base}/watch/bio?replay=${session}&token=${token('l1', 'learner')}`);
  await watch.click('button.replay', { timeout: 20000 });
  await watch.waitForFunction(() => { const v = document.querySelector('video'); return !!v && v.currentTime > 2; }, undefined, { timeout: 30000 });
  t.pass('the replay plays on the watch page');
  t.same(errors, [], 'no script errors');
});

t.test('camera refused', async (t) => {
  // No fake UI: the permission prompt cannot be answered in headless Chromium, so the browser refuses.
  const b = await launch(['--use-fake-device-for-media-stream', '--deny-permission-prompts']);
  t.teardown(() => b.close());
  const page = await b.newPage({ width: 1280, height: 900 });
  await page.goto(`${ts.base}/studio/bio?token=${token('prof', 'instructor')}`);
  await page.getByRole('button', { name: 'Turn on camera and microphone' }).click();
  await page.waitForFunction(() => document.querySelector('.golive-status')?.classList.contains('error'), undefined, { timeout: 10000 });
  t.match(await status(page), /not allowed to use the camera or microphone/);
  t.ok(await page.getByRole('button', { name: 'Go live' }).isDisabled(), 'Go live waits for the camera');
  await page.screenshot({ path: join(shots, 'golive-refused-1280.png') });
});

t.test('no camera', async (t) => {
  // Permission granted but no device on this machine (no fake device): the browser finds none.
  const b = await launch(['--use-fake-ui-for-media-stream']);
  t.teardown(() => b.close());
  const page = await b.newPage({ width: 390, height: 844 });
  await page.goto(`${ts.base}/studio/bio?token=${token('prof', 'instructor')}`);
  await page.getByRole('button', { name: 'Turn on camera and microphone' }).click();
  await page.waitForFunction(() => document.querySelector('.golive-status')?.classList.contains('error'), undefined, { timeout: 10000 });
  t.match(await status(page), /No camera or microphone was found/);
  await page.screenshot({ path: join(shots, 'golive-no-camera-390.png') });
});
