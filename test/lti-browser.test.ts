// The LMS launch in real Chromium: the tool inside an iframe of a course page on another site, third-party cookies
// blocked, the platform's postMessage storage in use. The learner lands in the waiting room with a countdown and
// then plays the private class when the instructor goes live.

import t from 'tap';
import { mkdirSync, rmSync } from 'node:fs';

import { join } from 'node:path';
import { launch, type Browser } from './helpers/browser.js';
import { FakePlatform, ROLE } from './helpers/lti-platform.js';
import { freePort, push, startTestServer, type TestServer } from './helpers/server.js';

let ts: TestServer;
let lms: FakePlatform;
let browser: Browser;

t.before(async () => {
  // A fresh server folder each run (tap keeps no state between runs for it).
  rmSync(t.testdirName + '-srv', { recursive: true, force: true });
  lms = await FakePlatform.start();
  const port = await freePort();
  // The tool on "localhost", the LMS on "127.0.0.1": two sites, so the tool's frame is third-party.
  ts = await startTestServer(t.testdirName + '-srv', { KMK_HTTP_PORT: String(port), KMK_PUBLIC_URL: `http://localhost:${port}` });
  lms.toolBase = `http://localhost:${port}`;
  ts.server.store.lti.addPlatform({ issuer: lms.issuer, clientId: lms.clientId, ...lms.urls, deploymentIds: [lms.deploymentId] });
  browser = await launch(['--test-third-party-cookie-phaseout']);
});
t.teardown(async () => {
  await browser?.close();
  await ts?.server.stop();
  await lms?.stop();
  rmSync(t.testdirName + '-srv', { recursive: true, force: true });
});

t.test('a learner launched inside the LMS iframe waits for the class, then plays it', async (t) => {
  const shots = join(t.testdirName, 'screenshots');
  mkdirSync(shots, { recursive: true });
  // A course whose channel exists (the instructor opened it once) and a class in two minutes.
  const inst = new URL((await lms.launch({ user: { sub: 'u-prof', name: 'Prof', roles: [ROLE.instructor] } })).launch.headers.get('location')!, lms.toolBase);
  const slug = inst.pathname.split('/')[2]!;
  const ch = ts.server.store.channels.get(slug);
  ts.server.store.classes.schedule({ courseId: ts.server.store.classes.courses()[0]!.id, channelId: ch.id, title: 'Mitosis', startsAt: Date.now() + 120_000, minutes: 30, record: false, archive: false });

  lms.pending.set('u-ada', { user: { sub: 'u-ada', name: 'Ada Lovelace', roles: [ROLE.learner] } });
  const page = await browser.newPage({ width: 1280, height: 900 });
  t.teardown(() => page.close());
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${lms.base}/course?hint=u-ada`);
  const frame = await (async () => {
    const deadline = Date.now() + 20000;
    for (;;) {
      const f = page.frames().find((x) => x.url().includes(`/watch/${slug}`));
      if (f) return f;
      if (Date.now() > deadline) throw new Error(`no watch page in the iframe; frames: ${page.frames().map((x) => x.url()).join(', ')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  t.match(frame.url(), /token=/, 'the launch ends on the watch page with a join token');
  const waiting = await frame.textContent('.overlay .waiting', { timeout: 15000 });
  t.match(waiting, /^The class starts at /);
  const countdown = await frame.textContent('.overlay .countdown');
  t.match(countdown, /^in [12] min \d\d s$/, `a countdown (${countdown})`);
  const messages = await page.evaluate(() => (window as unknown as { ltiMessages: string[] }).ltiMessages);
  t.ok(messages.includes('lti.put_data') && messages.includes('lti.get_data'), 'the state went through the platform\'s postMessage storage');
  const cookies = await browser.context.cookies([lms.toolBase]);
  t.same(cookies, [], 'the tool set no cookie');
  await page.screenshot({ path: join(shots, 'lti-waiting-1280.png') });
  t.equal(await frame.getAttribute('.pop-out', 'target'), '_blank', 'inside the LMS frame the page offers a window of its own');
  t.equal(await frame.getAttribute('.pop-out', 'href'), frame.url());

  // The instructor goes live: the page switches to the player by itself, on private HLS.
  const pub = push(ts.rtmp(ts.server.store.streamKeys.rotate(ch.id).key), { seconds: 40, size: '640x360' });
  t.teardown(() => pub.kill('SIGKILL'));
  await frame.waitForFunction(() => {
    const v = document.querySelector('video');
    return !!v && v.currentTime > 1 && (v.getVideoPlaybackQuality?.().totalVideoFrames ?? 0) > 0;
  }, undefined, { timeout: 40000 });
  t.pass('the class plays inside the LMS frame');
  const src = await frame.evaluate(() => (performance.getEntriesByType('resource') as PerformanceResourceTiming[]).map((e) => e.name).filter((n) => n.includes('/hls/')));
  t.ok(src.length > 0 && src.every((u) => u.includes('pt=')), 'every HLS request carried the playback token');
  await page.screenshot({ path: join(shots, 'lti-live-1280.png') });
  await page.setViewportSize({ width: 390, height: 844 });
  await frame.waitForFunction(() => document.documentElement.clientWidth <= 390);
  const overflow = await frame.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  t.equal(overflow, 0, 'no horizontal overflow in the frame at phone width');
  await page.screenshot({ path: join(shots, 'lti-live-390.png'), fullPage: true });
  t.same(errors, [], 'no page errors');
});

t.test('the instructor schedules a class from the studio opened from the LMS', async (t) => {
  const inst = (await lms.launch({ user: { sub: 'u-prof', name: 'Prof', roles: [ROLE.instructor] } })).launch.headers.get('location')!;
  const page = await browser.newPage({ width: 1280, height: 900 });
  t.teardown(() => page.close());
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(new URL(inst, lms.toolBase).toString());
  await page.waitForSelector('section:has(h2:text("Classes")) li');
  t.equal(await page.$('.pop-out'), null, 'not framed: no "open in a new window"');
  const at = new Date(Date.now() + 2 * 86400_000);
  const local = new Date(at.getTime() - at.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  await page.fill('form.schedule input[name=title]', 'Photosynthesis');
  await page.fill('form.schedule input[name=startsAt]', local);
  await page.fill('form.schedule input[name=minutes]', '50');
  await page.click('form.schedule button[type=submit]');
  await page.waitForSelector('.classes li:has-text("Photosynthesis")');
  t.match(await page.textContent('.card .notice'), 'Scheduled “Photosynthesis”');
  const k = ts.server.store.classes.list().find((c) => c.title === 'Photosynthesis');
  t.match(k, { minutes: 50 });
  t.equal(k!.startsAt, Math.floor(at.getTime() / 60000) * 60000, 'the time as the instructor typed it (to the minute)');
  await page.fill('form.schedule input[name=title]', 'Far away');
  await page.fill('form.schedule input[name=startsAt]', '2035-01-01T09:00');
  await page.click('form.schedule button[type=submit]');
  await page.waitForSelector('.card .notice:has-text("Not scheduled")');
  t.match(await page.textContent('.card .notice'), /two years ahead/, 'the server\'s reason is shown');
  t.same(errors, [], 'no page errors');
});
