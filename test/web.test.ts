import { request } from 'node:http';
import t from 'tap';
import { mkdirSync } from 'node:fs';
import { signJoinToken } from '../src/auth/join-token.js';
import type { Role } from '../src/domain/roles.js';
import { loadJoinSecret } from '../src/auth/join-secret.js';
import { launch } from './helpers/browser.js';
import { Client } from './helpers/ws.js';
import { fileTree, mediaWorkers, push, startTestServer, waitFor } from './helpers/server.js';
import { testdir } from './helpers/testdir.js';

const ts = await startTestServer(testdir(t), { KMK_INGEST_RECONNECT_GRACE_SECONDS: '2', KMK_WEB_FRAME_ANCESTORS: "'self' https://lms.example" });
t.teardown(() => ts.server.stop());
const browser = await launch();
t.teardown(() => browser.close());
const token = (channel: string, sub: string, role: Role = 'learner') =>
  signJoinToken({ sub, name: sub === 'teach' ? 'Prof. Teach' : `Learner ${sub}`, role, channel, exp: Math.floor(Date.now() / 1000) + 3600 },
    loadJoinSecret('', ts.server.config['paths.data']));
const shots = process.env.KMK_SCREENSHOTS; // a folder outside git, set by hand to look at the pages

t.test('the watch page is framable only by the configured LMS and has a strict CSP', async (t) => {
  ts.createChannel('headers', { record: false });
  const r = await ts.get('/watch/headers');
  t.equal(r.status, 200);
  const csp = r.headers.get('content-security-policy') ?? '';
  t.match(csp, "frame-ancestors 'self' https://lms.example");
  t.match(csp, "script-src 'self'");
  t.notMatch(csp, 'unsafe-inline');
  const directives = new Map(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name, values.join(' ')]));
  t.same([...directives.keys()].sort(), ['base-uri', 'connect-src', 'default-src', 'form-action', 'frame-ancestors', 'img-src', 'media-src', 'object-src', 'script-src', 'style-src', 'worker-src'],
    'every directive is present, each once');
  t.equal(directives.get('object-src'), "'none'");
  t.equal(directives.get('base-uri'), "'none'");
  t.match(directives.get('connect-src'), 'https://stream.mux.com', 'Mux playback may be fetched (overflow and archived replays)');
  const host = `127.0.0.1:${ts.server.httpPort}`;
  t.same(directives.get('connect-src')!.split(' ').filter((v) => /^wss?:/.test(v)), [`ws://${host}`, `wss://${host}`], 'sockets only to the host that served the page, never any ws: host');
  // fetch always sends its own Host: a raw request sends a hostile one.
  const odd = await new Promise<string>((resolve, reject) => {
    request({ host: '127.0.0.1', port: ts.server.httpPort, path: '/watch/headers', headers: { Host: 'evil.example; script-src *' } }, (res) => {
      res.resume();
      resolve(String(res.headers['content-security-policy'] ?? ''));
    }).on('error', reject).end();
  });
  t.match(odd, "connect-src 'self' https://stream.mux.com", 'a Host header unfit for a CSP source names no socket host');
  t.notMatch(odd, /evil|ws:/);
  t.equal(r.headers.get('x-frame-options'), null, 'no X-Frame-Options: DENY');
  t.equal((await ts.get('/watch/nope')).status, 404);
  t.equal((await ts.get('/assets/../package.json')).status, 404);
  // Bundles are held in memory; their source maps (5 MB) are read from disk when a browser's tools ask.
  const js = await ts.get('/assets/watch.js');
  t.equal(js.status, 200);
  t.match(js.headers.get('content-type'), /^text\/javascript/);
  const map = await ts.get('/assets/watch.js.map');
  t.equal(map.status, 200);
  t.equal(map.headers.get('content-type'), 'application/json');
  t.match(((await map.json()) as { version: number }).version, 3, 'the source map itself');
  t.equal((await ts.get('/assets/nothing.js.map')).status, 404);
});

t.test('the waiting room says when a scheduled class starts', async (t) => {
  const c = ts.createChannel('later', { record: false });
  ts.server.store.channels.update('later', { startsAt: '2030-01-07T14:30:00Z' });
  void c;
  const page = await browser.newPage({ width: 800, height: 600 });
  t.teardown(() => page.close());
  await page.goto(`${ts.base}/watch/later?token=${token('later', 'early-bird')}`);
  const text = await page.textContent('.overlay .waiting', { timeout: 10000 });
  t.match(text, /^The class starts at .*(14|2):30/, 'the scheduled time in the viewer\'s locale');
  t.equal(await page.getAttribute('#app', 'data-state'), 'waiting');
});

t.test('a learner watches a live class: the video plays and the quality menu lists the ladder', async (t) => {
  const { key } = ts.createChannel('cinema', { ladder: ['720p', '480p', '360p'], record: true });
  const pub = push(ts.rtmp(key), { seconds: 60, size: '1280x720' });
  t.teardown(() => pub.kill('SIGKILL'));
  await waitFor('the master playlist', async () => (await ts.get('/hls/cinema/master.m3u8')).status === 200, 30000);
  const page = await browser.newPage({ width: 1280, height: 800 });
  t.teardown(() => page.close());
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${ts.base}/watch/cinema?token=${token('cinema', 'l1')}`);
  await page.waitForFunction(() => {
    const v = document.querySelector('video');
    return !!v && v.currentTime > 1 && (v.getVideoPlaybackQuality?.().totalVideoFrames ?? 0) > 0;
  }, undefined, { timeout: 30000 });
  const t1 = await page.evaluate(() => document.querySelector('video')!.currentTime);
  await page.waitForFunction((t0) => document.querySelector('video')!.currentTime > t0 + 1, t1, { timeout: 15000 });
  t.pass('currentTime advances and frames are decoded');
  const options = await page.$$eval('select.quality option', (os) => os.map((o) => o.textContent));
  t.same(options, ['Auto', '720p', '480p', '360p', 'Data saver', 'Audio only'], 'the quality menu lists the ladder, data saver and audio only');
  await page.selectOption('select.quality', { label: '360p' });
  t.equal(await page.$eval('.player', (el) => el.getAttribute('tabindex')), '0', 'the player is keyboard focusable');
  t.same(errors, [], 'no page errors');
  if (shots) {
    mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: `${shots}/watch-desktop.png` });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: `${shots}/watch-phone.png`, fullPage: true });
  }
  // The class ends: the page offers the replay, and it plays.
  pub.kill('SIGKILL');
  await page.waitForSelector('button.replay', { timeout: 30000 });
  await page.click('button.replay');
  await page.waitForFunction(() => {
    const v = document.querySelector('video');
    return !!v && v.currentTime > 1 && !v.paused;
  }, undefined, { timeout: 30000 });
  t.pass('the replay plays');
});

t.test('two learners and the studio: chat, polls and votes flow between the pages; markup stays text', async (t) => {
  ts.createChannel('seminar', { record: false });
  const a = await browser.newPage({ width: 1280, height: 800 });
  const b = await browser.newPage({ width: 390, height: 844 });
  const studio = await browser.newPage({ width: 1400, height: 900 });
  t.teardown(async () => {
    await a.close();
    await b.close();
    await studio.close();
  });
  await a.goto(`${ts.base}/watch/seminar?token=${token('seminar', 'a')}`);
  await b.goto(`${ts.base}/watch/seminar?token=${token('seminar', 'b')}`);
  await studio.goto(`${ts.base}/studio/seminar?token=${token('seminar', 'teach', 'instructor')}`);
  for (const p of [a, b, studio]) await p.waitForSelector('.viewers:has-text("watching")');
  // One count everywhere: the two learners (the instructor is not watching), on both pages and in /api/status.
  for (const p of [a, b, studio]) await p.waitForSelector('.viewers:has-text("2 watching")', { timeout: 8000 });
  t.pass('both learner pages and the studio say "2 watching"');
  const health = await (await fetch(`${ts.base}/api/channels/seminar/health`, { headers: { Authorization: `Bearer ${token('seminar', 'teach', 'instructor')}` } })).json() as { viewers: number };
  t.equal(health.viewers, 2, 'and the studio\'s "viewers now" says the same before the class is live');
  await a.fill('.chat-form input', 'hello from A');
  await a.press('.chat-form input', 'Enter');
  await b.waitForSelector('.chat-list .text:has-text("hello from A")');
  t.pass('a chat message from one learner appears on the other');
  await a.fill('.chat-form input', '<script>window.pwned=1</script><b>bold</b>');
  await a.press('.chat-form input', 'Enter');
  await b.waitForSelector('.chat-list .text:has-text("<script>")');
  t.equal(await b.evaluate(() => (window as unknown as { pwned?: number }).pwned), undefined, 'the script did not run');
  t.equal(await b.$$eval('.chat-list b', (els) => els.length), 0, 'markup is not interpreted');
  t.equal(await b.textContent('.chat-list li:last-child .text'), '<script>window.pwned=1</script><b>bold</b>');

  await studio.fill('.poll-form input', 'Which topic next?');
  await studio.fill('.poll-form textarea', 'Graphs\nTrees\nHeaps');
  await studio.click('.poll-form button');
  for (const p of [a, b]) await p.waitForSelector('.poll h3:has-text("Which topic next?")');
  t.pass('the poll shows up on both learner pages');
  await a.click('.poll .opt button:has-text("Trees")');
  await b.click('.poll .opt button:has-text("Trees")');
  await studio.waitForSelector('.poll .total:has-text("2 votes")');
  t.match(await studio.textContent('.poll .opt:nth-child(2) .count'), /2 \(100%\)/, 'the studio sees the results');
  await studio.waitForSelector('.health dt:has-text("state")');
  t.match(await studio.textContent('.obs'), /rtmp:\/\/localhost:\d+\/live/, 'the studio shows the OBS server');
  if (shots) {
    await studio.screenshot({ path: `${shots}/studio-desktop.png` });
    await studio.setViewportSize({ width: 390, height: 844 });
    await studio.screenshot({ path: `${shots}/studio-phone.png`, fullPage: true });
  }
});

t.test('a guest stays the same person after reloading the page', async (t) => {
  ts.createChannel('open-lecture', { record: false });
  ts.server.store.channels.update('open-lecture', { allowGuests: true });
  const teacher = await Client.connect(`ws://127.0.0.1:${ts.server.httpPort}/ws?token=${token('open-lecture', 'prof', 'instructor')}`);
  t.teardown(() => teacher.close());
  const page = await browser.newPage({ width: 1280, height: 800 });
  t.teardown(() => page.close());
  await page.goto(`${ts.base}/watch/open-lecture`);
  await page.fill('form.guest input', 'Visiting Vera');
  await page.click('form.guest button');
  await page.waitForSelector('.viewers:has-text("watching")');
  await page.fill('.chat-form input', 'before the reload');
  await page.press('.chat-form input', 'Enter');
  const first = await teacher.event('chat', (e) => (e.msg as { text: string }).text === 'before the reload');
  await page.reload();
  t.equal(await page.locator('form.guest').count(), 0, 'the reloaded page does not ask for the name again');
  await page.waitForSelector('.viewers:has-text("watching")');
  await page.fill('.chat-form input', 'after the reload');
  await page.press('.chat-form input', 'Enter');
  const second = await teacher.event('chat', (e) => (e.msg as { text: string }).text === 'after the reload');
  t.match((first.msg as { userId: string }).userId, /^guest-[0-9a-f]{16}$/);
  t.equal((second.msg as { userId: string }).userId, (first.msg as { userId: string }).userId, 'the same guest id before and after');
});

t.test('a class that was not recorded ends without a failed request in the console', async (t) => {
  const { key } = ts.createChannel('no-rec', { record: false, ladder: ['360p'] });
  const page = await browser.newPage({ width: 1280, height: 800 });
  t.teardown(() => page.close());
  const consoleErrors: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  const failed: string[] = [];
  page.on('response', (r) => { if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`); });
  await page.goto(`${ts.base}/watch/no-rec?token=${token('no-rec', 'l-quiet')}`);
  await page.waitForSelector('.overlay .waiting');
  const pub = push(ts.rtmp(key), { seconds: 6, size: '640x360' });
  t.teardown(() => pub.kill('SIGKILL'));
  await page.waitForFunction(() => document.querySelector('#app')?.getAttribute('data-state') === 'live', undefined, { timeout: 30000 });
  await pub.done;
  await page.waitForSelector('.overlay:has-text("The class has ended.")', { timeout: 30000 });
  await new Promise((r) => setTimeout(r, 1000)); // what the ended page would ask for, it asks at once
  t.equal(await page.locator('button.replay').count(), 0, 'no replay is offered for a class that was not recorded');
  t.same(failed, [], 'no request failed while waiting, live or ended');
  t.same(consoleErrors, [], 'nothing in the console');
});

t.test('a QoE beacon is stored per session and participant', async (t) => {
  const { id } = ts.createChannel('qoe', { record: false });
  const session = ts.server.store.sessions.start(id, false).id;
  const tok = token('qoe', 'viewer-1');
  const ok = await fetch(`${ts.base}/api/beacon`, { method: 'POST', body: JSON.stringify({ channel: 'qoe', sessionId: session, token: tok, startupMs: 1200, rebuffers: 1, rebufferMs: 300, bitrate: 1500000, rendition: '480p', latencyMs: 6100, errors: ['networkError:fragLoadError'] }) });
  t.equal(ok.status, 204);
  const rows = ts.server.store.beacons.forSession(session);
  t.match(rows, [{ userId: 'viewer-1', startupMs: 1200, rebuffers: 1, rendition: '480p', latencyMs: 6100, errors: ['networkError:fragLoadError'] }]);
  t.equal((await fetch(`${ts.base}/api/beacon`, { method: 'POST', body: '{"channel":"qoe"}' })).status, 400, 'anonymous beacons are refused');
  t.equal((await fetch(`${ts.base}/api/beacon`, { method: 'POST', body: 'nope' })).status, 400);
});

t.test('the studio API: live health and key rotation need an instructor join token for that channel', async (t) => {
  const { key } = ts.createChannel('studio-api', { ladder: ['360p'], record: false });
  const teach = token('studio-api', 'teach', 'instructor');
  const get = (tok: string) => fetch(`${ts.base}/api/channels/studio-api/health`, { headers: { Authorization: `Bearer ${tok}` } });
  t.equal((await get(token('studio-api', 'l', 'learner'))).status, 401, 'a learner token is not enough');
  t.equal((await get(token('other', 'teach', 'instructor'))).status, 401, 'an instructor of another channel neither');
  const pub = push(ts.rtmp(key), { seconds: 30, size: '640x360' });
  t.teardown(() => pub.kill('SIGKILL'));
  const health = await waitFor('live health', async () => {
    const r = await get(teach);
    const j = (await r.json()) as { state: string; ingest: { kbps: number; fps: number } | null; ladder: string[]; viewers: number; obsServer: string };
    return j.state === 'live' && j.ingest && j.ingest.kbps > 0 ? j : undefined;
  }, 30000);
  // The stage's picture is composed by default (stage.picture): the top rung is encoded, never copied.
  t.match(health, { ingest: { fps: 30 }, ladder: ['360p'], obsServer: /^rtmp:\/\/localhost:\d+\/live$/ });
  const rotate = (tok: string) => fetch(`${ts.base}/api/channels/studio-api/stream-key`, { method: 'POST', headers: { Authorization: `Bearer ${tok}` }, body: '' });
  t.equal((await rotate(token('studio-api', 'l', 'learner'))).status, 401);
  const r = await rotate(teach);
  t.equal(r.status, 200);
  const rotated = (await r.json()) as { key: string; fingerprint: string };
  t.match(rotated.key, /^[A-Za-z0-9_-]{43}$/);
  t.not(rotated.key, key);
  t.equal(ts.server.store.streamKeys.channelForKey(key, false), undefined, 'the old key stopped working');
  t.ok(ts.server.store.streamKeys.channelForKey(rotated.key, false), 'the new one works');
});

t.test('stopping the server leaves nothing running or writing in the media folder', async (t) => {
  await ts.server.stop(); // the teardown's stop() is then a no-op
  t.same(mediaWorkers(ts), [], 'no ffmpeg or ffprobe of ours still runs');
  const media = ts.server.config['paths.media'];
  const before = fileTree(media);
  await new Promise((r) => setTimeout(r, 1500));
  t.same(fileTree(media), before, 'nothing in the media folder changes after stop()');
});
