// Live captions end to end, real parts: a class pushed over RTMP by ffmpeg into the real server (ladder running), a
// captioner and a learner on the hub over real WebSockets, then in real Chromium (the captioner's desk, the learner's
// player), the WebVTT rendition checked against the video's own timestamps, and the replay with its captions and
// transcript. Screenshots at 1280 and 390 px, light and dark, are kept (tap --save-fixture).

import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { signJoinToken } from '../src/auth/join-token.js';
import { loadJoinSecret } from '../src/auth/join-secret.js';
import type { Role } from '../src/domain/roles.js';
import { launch } from './helpers/browser.js';
import { liveDir, push, startTestServer, waitFor } from './helpers/server.js';
import { testdir } from './helpers/testdir.js';
import { Client } from './helpers/ws.js';

const dir = testdir(t);
const ts = await startTestServer(dir);
t.teardown(() => ts.server.stop());
const secret = loadJoinSecret('', ts.server.config['paths.data']);
const token = (sub: string, role: Role, channel = 'bio'): string =>
  signJoinToken({ sub, name: sub === 'cap' ? 'Caption Writer' : `Learner ${sub}`, role, channel, exp: Math.floor(Date.now() / 1000) + 3600 }, secret);
const { key } = ts.createChannel('bio', { ladder: ['360p'], latency: 'low', public: false, captions: ['en', 'es'] });
const plain = ts.createChannel('plain', { ladder: ['240p'], latency: 'low' });
const ws = (tok: string) => Client.connect(`${ts.base.replace('http', 'ws')}/ws?token=${tok}`);
const shots = join(dir, 'screenshots');

/** A learner's playback token (the `pt` the watch page's playback URL carries) for a private class or its replay. */
async function playbackToken(path: string): Promise<string> {
  const r = await ts.get(path, { Authorization: `Bearer ${token('amy', 'learner')}` });
  return new URL((await r.json() as { url: string }).url, ts.base).searchParams.get('pt')!;
}

/** The program time of the newest segment of the class's rung: what a player at the live edge shows. */
function liveEdge(slug: string, rung: string): number {
  const text = readFileSync(join(liveDir(ts, slug), rung, 'index.m3u8'), 'utf8');
  const dates = [...text.matchAll(/#EXT-X-PROGRAM-DATE-TIME:(.+)/g)].map((m) => Date.parse(m[1]!));
  return dates[dates.length - 1]!;
}

interface Vtt { seq: number; file: string; text: string }
function vttSegments(folder: string): Vtt[] {
  if (!existsSync(folder)) return [];
  return readdirSync(folder).filter((f) => f.endsWith('.vtt') && f !== 'transcript.vtt')
    .map((f) => ({ seq: Number(/_(\d+)\.vtt$/.exec(f)![1]), file: join(folder, f), text: readFileSync(join(folder, f), 'utf8') }))
    .sort((a, b) => a.seq - b.seq);
}

const pub = push(ts.rtmp(key), { size: '640x360' });
t.teardown(() => pub.kill('SIGKILL'));
const plainPub = push(ts.rtmp(plain.key), { size: '426x240', seconds: 12 });
t.teardown(() => plainPub.kill('SIGKILL'));
await waitFor('the class to be live', () => existsSync(join(liveDir(ts, 'bio'), 'master.m3u8')), 40000);
const session = ts.server.live.current('bio')!.sessionId;
const line1 = 'Photosynthesis turns light into sugar';

t.test('caption lines over the hub', async (t) => {
  const cap = await ws(token('cap', 'captioner'));
  t.teardown(() => cap.close());
  const amy = await ws(token('amy', 'learner'));
  t.teardown(() => amy.close());
  await cap.waitFor('welcome', () => cap.messages.find((m) => m.t === 'welcome'));
  await amy.waitFor('welcome', () => amy.messages.find((m) => m.t === 'welcome'));
  t.same((cap.welcome.room as { class: { captions: string[] } }).class.captions, ['en', 'es'], 'the class says it is captioned, and in what');
  amy.send({ t: 'caption', text: 'let me type', start: Date.now() });
  await amy.waitFor('the refusal', () => amy.errors('forbidden')[0]);
  t.match(amy.errors('forbidden')[0], { message: /only a captioner/ }, 'a learner cannot send captions');
  cap.send({ t: 'chat', text: 'hello' });
  await cap.waitFor('the refusal', () => cap.errors('forbidden')[0]);
  t.match(cap.errors('forbidden')[0], { message: /captions only/ });
  cap.send({ t: 'caption', text: 'x', start: 'soon' });
  await cap.waitFor('the refusal', () => cap.errors('invalid')[0]);

  const sent = Date.now();
  cap.send({ t: 'caption', text: line1, start: liveEdge('bio', '360p') });
  const ev = await amy.waitFor('the line', () => amy.events.find((e) => e.t === 'caption'));
  const took = Date.now() - sent;
  t.ok(took < 1000, `the learner has the line ${took} ms after it was sent`);
  t.match(ev, { cue: { text: line1, lang: 'en', by: 'cap' } });
  cap.send({ t: 'caption', text: 'La fotosíntesis', start: liveEdge('bio', '360p'), lang: 'es' });
  await amy.waitFor('the Spanish line', () => amy.events.find((e) => e.t === 'caption' && (e.cue as { lang: string }).lang === 'es'));

  // On a channel without captions, nobody sends any.
  const teach = await ws(token('prof', 'instructor', 'plain'));
  t.teardown(() => teach.close());
  await waitFor('the plain class', () => ts.server.live.current('plain')?.state === 'live', 30000);
  await new Promise((r) => setTimeout(r, 300));
  teach.send({ t: 'caption', text: 'hello', start: Date.now() });
  await teach.waitFor('the refusal', () => teach.errors('forbidden')[0]);
  t.match(teach.errors('forbidden')[0], { message: /not captioned/ });
  t.notMatch(readFileSync(join(liveDir(ts, 'plain'), 'master.m3u8'), 'utf8'), /SUBTITLES/, 'and its master lists no caption track');
});

t.test('the WebVTT rendition follows the video', async (t) => {
  const folder = join(liveDir(ts, 'bio'), 'captions-en');
  const pt = `pt=${encodeURIComponent(await playbackToken('/api/channels/bio/playback'))}`;
  const master = await (await ts.get(`/hls/bio/master.m3u8?${pt}`)).text();
  t.match(master, /#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",DEFAULT=YES,AUTOSELECT=YES,FORCED=NO,LANGUAGE="en",URI="captions-en\/index.m3u8/);
  t.match(master, /NAME="Spanish",DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,LANGUAGE="es"/);
  t.match(master, /#EXT-X-STREAM-INF:[^\n]*SUBTITLES="subs"/);
  const uri = /LANGUAGE="en",URI="([^"]+)"/.exec(master)![1]!;
  t.match(uri, /^captions-en\/index\.m3u8\?pt=/, 'the track\'s URI carries the playback token');
  const withLine = await waitFor('a subtitle segment with the line', () => vttSegments(folder).find((v) => v.text.includes(line1)), 20000);
  const subs = await ts.get(`/hls/bio/${uri}`);
  t.equal(subs.status, 200, 'the subtitle playlist is served with the learner\'s playback token');
  const list = await subs.text();
  t.match(list, new RegExp(`#EXT-X-PROGRAM-DATE-TIME:[^\\n]+\\n#EXTINF:[\\d.]+,\\n${session}_${withLine.seq}\\.vtt\\?pt=`), 'it lists the segment by program time, with the token');
  t.equal((await ts.get('/hls/bio/captions-en/index.m3u8')).status, 403, 'and not without one (a private class)');

  const rung = readFileSync(join(liveDir(ts, 'bio'), '360p', 'index.m3u8'), 'utf8');
  const segFile = [...rung.matchAll(/\n([^#\n]+\.ts)/g)].map((m) => m[1]!).find((f) => f.endsWith(`_${String(withLine.seq).padStart(5, '0')}.ts`));
  t.ok(segFile, `its video segment ${withLine.seq} is in the rung's playlist`);
  const probe = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts', '-read_intervals', '%+#1', '-of', 'json',
    join(liveDir(ts, 'bio'), '360p', segFile!)]).toString()) as { packets: { pts: number }[] };
  t.match(withLine.text, new RegExp(`^WEBVTT\\nX-TIMESTAMP-MAP=MPEGTS:${probe.packets[0]!.pts},LOCAL:01:00:00.000\\n`), 'mapped to the video segment\'s first PTS');
  t.match(withLine.text, /\n(01|00):\d\d:\d\d\.\d{3} --> 01:\d\d:\d\d\.\d{3}\nPhotosynthesis/, 'a cue in WebVTT form');
  const es = vttSegments(join(liveDir(ts, 'bio'), 'captions-es'));
  t.ok(es.some((v) => v.text.includes('La fotosíntesis')) || await waitFor('the Spanish segment', () => vttSegments(join(liveDir(ts, 'bio'), 'captions-es')).some((v) => v.text.includes('La fotosíntesis')), 10000));
  t.notOk(es.some((v) => v.text.includes(line1)), 'each language its own lines');
  const before = vttSegments(folder).at(-1)!.seq;
  await waitFor('the rendition to advance', () => vttSegments(folder).at(-1)!.seq >= before + 2, 10000);
  t.pass('new subtitle segments keep coming with the video');
});

async function ccOn(page: Page): Promise<void> {
  await page.locator('.player button.cc').waitFor({ state: 'visible', timeout: 30000 });
  if (await page.locator('.player button.cc').getAttribute('aria-pressed') !== 'true') await page.locator('.player button.cc').click();
}

const showing = (page: Page, text: string) => page.evaluate((s) => [...document.querySelector('video')!.textTracks]
  .some((tr) => tr.mode === 'showing' && [...(tr.activeCues ?? [])].some((c) => (c as VTTCue).text.includes(s))), text);

t.test('in the browser: the captioner types, the learner reads', async (t) => {
  const b = await launch();
  t.teardown(() => b.close());
  const errors: string[] = [];
  const learner = await b.newPage({ width: 1280, height: 800 });
  learner.on('pageerror', (e) => errors.push(e.message));
  await learner.goto(`${ts.base}/watch/bio?token=${token('lee', 'learner')}`);
  await learner.waitForFunction(() => document.querySelector('video')!.currentTime > 1, undefined, { timeout: 40000 });
  await ccOn(learner);
  t.equal(await learner.locator('.caption-desk').isHidden(), true, 'a learner has no caption desk');

  const writer = await b.newPage({ width: 1280, height: 800 });
  writer.on('pageerror', (e) => errors.push(e.message));
  await writer.goto(`${ts.base}/watch/bio?token=${token('cap', 'captioner')}`);
  await writer.waitForFunction(() => document.querySelector('video')!.currentTime > 1, undefined, { timeout: 40000 });
  const box = writer.getByLabel(/Line to send/);
  await box.waitFor({ state: 'visible' });
  await box.focus();
  await writer.keyboard.type('The chloroplast is greeen');
  await writer.keyboard.press('Backspace');
  await writer.keyboard.press('Backspace');
  await writer.keyboard.type('n');
  t.equal(await box.inputValue(), 'The chloroplast is green', 'corrected before it is sent');
  t.equal(await writer.locator('.chat-form input').isDisabled(), true, 'the captioner is offered no chat (the server would refuse it)');
  const latency = await learner.evaluate(() => (window as unknown as { kmk: { player: { qoe(): { latencyMs: number | null } } } }).kmk.player.qoe().latencyMs ?? 0);
  const sent = Date.now();
  await writer.keyboard.press('Enter');
  await learner.waitForFunction(() => [...document.querySelector('video')!.textTracks]
    .some((tr) => tr.mode === 'showing' && [...(tr.activeCues ?? [])].some((c) => (c as VTTCue).text.includes('chloroplast'))), undefined, { timeout: 15000 });
  const took = Date.now() - sent;
  t.ok(took <= latency + 1000, `the line shows in the learner's player ${took} ms after Enter (the class's latency ${latency} ms, + 1 s allowed)`);
  t.equal(await box.inputValue(), '', 'the desk is ready for the next line');
  await writer.locator('.caption-sent li').first().waitFor();
  t.match(await writer.locator('.caption-sent li').first().innerText(), /The chloroplast is green/, 'the desk lists what went out');
  await learner.screenshot({ path: join(shots, 'captions-learner-1280.png') });
  await writer.screenshot({ path: join(shots, 'captions-desk-1280.png') });
  await writer.emulateMedia({ colorScheme: 'dark' });
  await learner.emulateMedia({ colorScheme: 'dark' });
  await writer.keyboard.type('Light reactions happen in the thylakoids');
  await writer.keyboard.press('Enter');
  await learner.waitForFunction(() => [...document.querySelector('video')!.textTracks].some((tr) => [...(tr.activeCues ?? [])].some((c) => (c as VTTCue).text.includes('thylakoids'))), undefined, { timeout: 15000 });
  await learner.screenshot({ path: join(shots, 'captions-learner-dark-1280.png') });
  await writer.screenshot({ path: join(shots, 'captions-desk-dark-1280.png') });

  for (const [page, name] of [[learner, 'learner'], [writer, 'desk']] as const) {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.emulateMedia({ colorScheme: 'light' });
    await page.waitForTimeout(300);
    t.equal(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true, `${name}: no sideways scroll at 390 px`);
    await page.screenshot({ path: join(shots, `captions-${name}-390.png`), fullPage: true });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: join(shots, `captions-${name}-dark-390.png`), fullPage: true });
  }
  t.same(errors, [], 'no script errors');
});

t.test('the replay has the captions and a transcript', async (t) => {
  pub.kill('SIGKILL');
  await waitFor('the class to end', () => ts.server.live.current('bio') === undefined, 30000);
  const vod = join(ts.server.config['paths.media'], 'vod', session);
  const subs = readFileSync(join(vod, 'captions-en', 'index.m3u8'), 'utf8');
  t.match(subs, /#EXT-X-ENDLIST\n$/, 'the subtitle playlist is closed');
  const rung = readFileSync(join(vod, '360p', 'index.m3u8'), 'utf8');
  t.equal((subs.match(/#EXTINF/g) ?? []).length, (rung.match(/#EXTINF/g) ?? []).length, 'one subtitle segment per video segment');
  t.match(readFileSync(join(vod, 'master.m3u8'), 'utf8'), /TYPE=SUBTITLES/);
  const text = readFileSync(join(vod, 'captions-en', 'transcript.txt'), 'utf8');
  t.match(text, /^\[00:00:\d\d\] Photosynthesis turns light into sugar\n/m, 'the transcript has the first line with its time');
  t.match(text, /The chloroplast is green/);
  t.notMatch(text, /fotosíntesis/, 'the English transcript holds English lines');
  t.match(readFileSync(join(vod, 'captions-es', 'transcript.txt'), 'utf8'), /La fotosíntesis/);
  const pt = await playbackToken(`/api/sessions/${session}/replay`);
  const served = await ts.get(`/vod/${session}/captions-en/transcript.vtt?pt=${encodeURIComponent(pt)}`);
  t.equal(served.status, 200);
  t.match(served.headers.get('content-type') ?? '', /^text\/vtt/);
  t.match(await served.text(), /^WEBVTT\n/);

  const report = await (await ts.get(`/api/sessions/${session}/report`, { Authorization: `Bearer ${token('prof', 'instructor')}` })).json() as { captions?: unknown };
  t.same(report.captions, { lines: 4, languages: ['en', 'es'], fromSpeech: 0, typed: 4, captioners: 1 }, 'the class report says how the class was captioned');

  // Played on the watch page: the stream's own WebVTT track shows the line at its moment.
  const cueAt = /\n(\d\d):(\d\d):(\d\d)\.(\d{3}) --> [^\n]+\nThe chloroplast/.exec(readFileSync(join(vod, 'captions-en', 'transcript.vtt'), 'utf8'))!;
  const at = Number(cueAt[1]) * 3600 + Number(cueAt[2]) * 60 + Number(cueAt[3]) + Number(cueAt[4]) / 1000;
  const b = await launch();
  t.teardown(() => b.close());
  const page = await b.newPage({ width: 1280, height: 800 });
  await page.goto(`${ts.base}/watch/bio?token=${token('lee', 'learner')}&replay=${session}`);
  await page.getByRole('button', { name: /Watch the replay/ }).click({ timeout: 20000 });
  await page.waitForFunction(() => document.querySelector('video')!.readyState >= 2, undefined, { timeout: 20000 });
  await ccOn(page);
  await page.evaluate((s) => { document.querySelector('video')!.currentTime = s; }, at + 0.3);
  await page.waitForFunction(() => [...document.querySelector('video')!.textTracks]
    .some((tr) => tr.mode === 'showing' && [...(tr.activeCues ?? [])].some((c) => (c as VTTCue).text.includes('chloroplast'))), undefined, { timeout: 20000 });
  t.ok(await showing(page, 'chloroplast'), `the replay shows the line at ${at.toFixed(1)} s, from the recording's own caption track`);
  await page.screenshot({ path: join(shots, 'captions-replay-1280.png') });

  // The transcript beside the replay: searched, a line seeks, downloads; no corrections for a learner.
  const lines = page.locator('.transcript-lines li');
  await lines.first().waitFor();
  t.match(await page.locator('.transcript-status').innerText(), /^3 lines$/, 'the English lines, not the Spanish one');
  t.equal(await page.locator('.transcript button.edit').count(), 0, 'a learner cannot correct lines');
  await page.getByLabel('Search the transcript').fill('CHLOROPLAST');
  t.equal(await lines.count(), 1, 'search keeps the lines with the word');
  t.equal(await page.locator('.transcript-lines mark').innerText(), 'chloroplast', 'and marks it');
  await page.evaluate(() => { document.querySelector('video')!.currentTime = 0.5; });
  await page.locator('.transcript-lines button.line').focus();
  await page.keyboard.press('Enter');
  await page.waitForFunction((s) => Math.abs(document.querySelector('video')!.currentTime - s) < 1.5, at, { timeout: 10000 });
  t.pass('Enter on the line seeks the replay to it');
  const href = await page.getByRole('link', { name: 'WebVTT' }).getAttribute('href');
  const dl = await fetch(new URL(href!, ts.base));
  t.equal(dl.status, 200, 'the WebVTT download link works (with the playback token)');
  t.match(await dl.text(), /^WEBVTT\n[\s\S]*The chloroplast is green/);
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: join(shots, 'captions-transcript-390.png'), fullPage: true });

  const first = (await (await ts.get(`/api/sessions/${session}/transcript`, { Authorization: `Bearer ${token('amy', 'learner')}` })).json() as { lines: { id: string; text: string }[] }).lines[0]!;
  const patch = (tok: string, body: string) => fetch(`${ts.base}/api/sessions/${session}/captions/${first.id}`, { method: 'PATCH', headers: { Authorization: `Bearer ${tok}`, 'Content-Type': 'application/json' }, body });
  t.equal((await patch(token('amy', 'learner'), '{"text":"hacked"}')).status, 401, 'a learner cannot correct a line');
  t.equal((await patch(token('prof', 'instructor'), '{"text":""}')).status, 400, 'an empty line is refused');
  t.equal((await patch(token('prof', 'instructor'), '{"text":"x","more":1}')).status, 400);

  // The instructor corrects a line on the same page; the recording's captions follow.
  const prof = await b.newPage({ width: 1280, height: 800 });
  await prof.goto(`${ts.base}/watch/bio?token=${token('prof', 'instructor')}&replay=${session}`);
  await prof.getByRole('button', { name: /Watch the replay/ }).click({ timeout: 20000 });
  await prof.locator('.transcript button.edit').first().click();
  const field = prof.getByLabel(/Corrected line at/);
  await field.fill('Photosynthesis turns light into glucose');
  await field.press('Enter');
  await prof.locator('.transcript-status', { hasText: 'Saved' }).waitFor();
  t.match(await prof.locator('.transcript-lines li').first().innerText(), /glucose/, 'the page shows the corrected line');
  await prof.screenshot({ path: join(shots, 'captions-transcript-edit-1280.png') });
  const vodEn = join(ts.server.config['paths.media'], 'vod', session, 'captions-en');
  t.match(readFileSync(join(vodEn, 'transcript.txt'), 'utf8'), /\] Photosynthesis turns light into glucose\n/, 'the text transcript says it');
  const segs = vttSegments(vodEn);
  t.ok(segs.some((v) => v.text.includes('into glucose')) && !segs.some((v) => v.text.includes('into sugar')), 'every subtitle segment with the line says it');
  t.match(segs.find((v) => v.text.includes('into glucose'))!.text, /^WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:\d+,LOCAL:01:00:00.000\n/, 'and keeps its place on the video');
});

t.test('an ultra (LL-HLS) class carries them too, mapped to its fMP4 decode times', async (t) => {
  const fast = ts.createChannel('fast', { ladder: ['240p'], latency: 'ultra', captions: ['en'] });
  const p = push(ts.rtmp(fast.key), { size: '426x240', seconds: 25 });
  t.teardown(() => p.kill('SIGKILL'));
  await waitFor('the ultra class', () => existsSync(join(liveDir(ts, 'fast'), 'master.m3u8')), 40000);
  const master = readFileSync(join(liveDir(ts, 'fast'), 'master.m3u8'), 'utf8');
  t.match(master, /#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",DEFAULT=YES,AUTOSELECT=YES,FORCED=NO,LANGUAGE="en",URI="captions-en\/index.m3u8"/);
  const rung = await (await ts.get('/hls/fast/240p/index.m3u8')).text();
  const dates = [...rung.matchAll(/#EXT-X-PROGRAM-DATE-TIME:(.+)/g)].map((m) => Date.parse(m[1]!));
  const cap = await ws(token('cap', 'captioner', 'fast'));
  t.teardown(() => cap.close());
  await cap.waitFor('welcome', () => cap.messages.find((m) => m.t === 'welcome'));
  cap.send({ t: 'caption', text: 'Low latency lines', start: dates[dates.length - 1]! });
  const folder = join(liveDir(ts, 'fast'), 'captions-en');
  const seg = await waitFor('a subtitle segment with the line', () => vttSegments(folder).find((v) => v.text.includes('Low latency lines')), 20000);
  const subs = await (await ts.get('/hls/fast/captions-en/index.m3u8')).text();
  t.match(subs, new RegExp(`#EXT-X-PROGRAM-DATE-TIME:[^\\n]+\\n#EXTINF:[\\d.]+,\\n[^\\n]*_${seg.seq}\\.vtt`), 'the subtitle playlist is served beside the LL-HLS rungs');
  // The fMP4 segment of the same number: its first video frame's decode time, as a player reads it.
  const now = await (await ts.get('/hls/fast/240p/index.m3u8')).text();
  const init = /#EXT-X-MAP:URI="([^"]+)"/.exec(now)![1]!;
  const media = [...now.matchAll(/\n([^#\n]+\.m4s)/g)].map((m) => m[1]!).find((u) => u.endsWith(`_${seg.seq}.m4s`));
  t.ok(media, `the video segment ${seg.seq} is still listed`);
  const bytes = Buffer.concat([Buffer.from(await (await ts.get(`/hls/fast/240p/${init}`)).arrayBuffer()), Buffer.from(await (await ts.get(`/hls/fast/240p/${media}`)).arrayBuffer())]);
  const probe = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=dts_time', '-read_intervals', '%+#1', '-of', 'json', '-i', 'pipe:0'], { input: bytes }).toString()) as { packets: { dts_time: string }[] };
  const mpegts = Number(/MPEGTS:(\d+)/.exec(seg.text)![1]);
  t.ok(Math.abs(mpegts - Number(probe.packets[0]!.dts_time) * 90000) <= 2, `MPEGTS ${mpegts} is the segment's first decode time (${probe.packets[0]!.dts_time} s)`);
});
