// The stage's media with real parts: a class pushed over RTMP (its sound a 440 Hz tone), the instructor's studio and
// learner A's watch page in two Chromium instances with fake devices (prof's microphone a 2500 Hz tone, A's 1000 Hz),
// learner B watching over HLS in a third. A is invited from the studio's participants list and joins with camera
// and microphone; A hears prof and prof hears A (WebRTC inbound audio: packets and energy); the class's recording
// has A's 1000 Hz tone while A is on stage and not after; A removed: the server stops A's media within a second.
// An uninvited learner's publish, a learner claiming to be the host, a removed member's new publish: refused.

import t from 'tap';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { signJoinToken } from '../src/auth/join-token.js';
import { loadJoinSecret } from '../src/auth/join-secret.js';
import type { Role } from '../src/domain/roles.js';
import { launch } from './helpers/browser.js';
import { push, startTestServer, waitFor } from './helpers/server.js';
import { testdir } from './helpers/testdir.js';

const dir = testdir(t);
const tone = (hz: number): string => {
  const path = join(dir, `tone-${hz}.wav`);
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `sine=frequency=${hz}:sample_rate=48000:duration=30`, '-ac', '1', '-c:a', 'pcm_s16le', path]);
  return path;
};
const fake = (wav: string): string[] => ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${wav}`];
/** A camera that sees plain red: A's tile is found in the broadcast's picture by its colour. */
const redCamera = (): string => {
  const path = join(dir, 'red.y4m');
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'color=c=0xff0000:s=640x360:r=30:d=2', '-pix_fmt', 'yuv420p', path]);
  return `--use-file-for-fake-video-capture=${path}`;
};

const ts = await startTestServer(dir);
t.teardown(() => ts.server.stop());
const secret = loadJoinSecret('', ts.server.config['paths.data']);
const token = (sub: string, role: Role): string =>
  signJoinToken({ sub, name: sub === 'prof' ? 'Prof. Byron' : `Learner ${sub.toUpperCase()}`, role, channel: 'bio', exp: Math.floor(Date.now() / 1000) + 3600 }, secret);
const { key } = ts.createChannel('bio', { ladder: ['240p'], latency: 'low', public: false });
const shots = join(dir, 'screenshots');

/** Inbound audio of the page's stage connection: packets, and the energy the browser decoded. */
const inbound = (page: Page): Promise<{ packets: number; energy: number }> => page.evaluate(async () => {
  const pc = (window as unknown as { kmk: { stage: { pc?: RTCPeerConnection } } }).kmk.stage.pc;
  let packets = 0;
  let energy = 0;
  for (const s of (await pc?.getStats())?.values() ?? []) {
    if (s.type === 'inbound-rtp' && s.kind === 'audio') {
      packets += s.packetsReceived ?? 0;
      energy += s.totalAudioEnergy ?? 0;
    }
  }
  return { packets, energy };
});

/** Share of the pixels of a rectangle of a segment's middle frame that are red (R high, G and B low). */
function redShare(file: string, w: number, h: number, box: { x: number; y: number; w: number; h: number }, seconds: number): number {
  const frame = (seek: string[]): Buffer => execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', file, ...seek, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { maxBuffer: 64 * 1024 * 1024 });
  let rgb = frame(['-ss', (seconds / 2).toFixed(3)]);
  if (rgb.length < w * h * 3) rgb = frame([]); // a video segment shorter than the sound's: its first frame
  if (rgb.length < w * h * 3) return -1;
  let red = 0;
  for (let y = box.y; y < box.y + box.h; y += 1) {
    for (let x = box.x; x < box.x + box.w; x += 1) {
      const i = (y * w + x) * 3;
      if (rgb[i]! > 170 && rgb[i + 1]! < 90 && rgb[i + 2]! < 90) red += 1;
    }
  }
  return red / (box.w * box.h);
}

/** RMS level (dB) of a band around `hz` in a segment of the recording. */
function level(file: string, hz: number): number {
  const r = execFileSync('sh', ['-c', `ffmpeg -hide_banner -i '${file}' -af 'bandpass=f=${hz}:width_type=h:w=60,bandpass=f=${hz}:width_type=h:w=60,astats=metadata=0:measure_overall=RMS_level' -f null - 2>&1 | grep 'RMS level' | tail -1`], { encoding: 'utf8' });
  const m = /RMS level dB:\s*(-?[\d.]+|-inf)/.exec(r);
  return !m || m[1] === '-inf' ? -200 : Number(m[1]);
}

t.test('a learner on stage: heard by the instructor and in the broadcast, then removed', async (t) => {
  const pub = push(ts.rtmp(key), { size: '426x240' });
  t.teardown(() => pub.kill('SIGKILL'));
  await waitFor('the class', () => ts.server.live.current('bio')?.state === 'live', 40000);
  const session = ts.server.live.current('bio')!.sessionId;

  const teacher = await launch(fake(tone(2500)));
  t.teardown(() => teacher.close());
  const studio = await teacher.newPage({ width: 1280, height: 900 });
  const errors: string[] = [];
  studio.on('pageerror', (e) => errors.push(`studio: ${e.message}`));
  await studio.goto(`${ts.base}/studio/bio?token=${token('prof', 'instructor')}`);

  const learnerA = await launch([...fake(tone(1000)), redCamera()]);
  t.teardown(() => learnerA.close());
  const watchA = await learnerA.newPage({ width: 390, height: 844 });
  watchA.on('pageerror', (e) => errors.push(`A: ${e.message}`));
  await watchA.goto(`${ts.base}/watch/bio?token=${token('a', 'learner')}`);

  const learnerB = await launch();
  t.teardown(() => learnerB.close());
  const watchB = await learnerB.newPage({ width: 1280, height: 800 });
  watchB.on('pageerror', (e) => errors.push(`B: ${e.message}`));
  await watchB.goto(`${ts.base}/watch/bio?token=${token('b', 'learner')}`);
  await watchB.waitForFunction(() => { const v = document.querySelector('video'); return !!v && v.currentTime > 1; }, undefined, { timeout: 40000 });

  // An uninvited learner cannot publish, whatever it sends; nor can a learner claim to be the host.
  const offer = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:111 opus/48000/2\r\n';
  const post = (sub: string, role: Role, query = ''): Promise<Response> => fetch(`${ts.base}/stage/bio${query}`, {
    method: 'POST', headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${token(sub, role)}` }, body: offer,
  });
  let r = await post('b', 'learner');
  t.equal(r.status, 403, 'an uninvited learner\'s publish is refused');
  t.match(await r.text(), /not on this class's stage/);
  r = await post('b', 'learner', '?host=1');
  t.equal(r.status, 403, 'a learner cannot join as the host');
  r = await fetch(`${ts.base}/stage/bio`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: offer });
  t.equal(r.status, 401, 'no token: 401');
  r = await fetch(`${ts.base}/stage/bio`, { method: 'POST', headers: { 'Content-Type': 'text/plain', Authorization: `Bearer ${token('b', 'learner')}` }, body: offer });
  t.equal(r.status, 415, 'not SDP: 415');
  r = await fetch(`${ts.base}/stage/nope`, { method: 'POST', headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${token('b', 'learner')}` }, body: offer });
  t.equal(r.status, 404, 'no such channel: 404');
  r = await fetch(`${ts.base}/stage/bio`, { method: 'POST', headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${signJoinToken({ sub: 'b', name: 'B', role: 'learner', channel: 'other', exp: Math.floor(Date.now() / 1000) + 600 }, secret)}` }, body: offer });
  t.equal(r.status, 401, 'another channel\'s token: 401');
  t.equal((await fetch(`${ts.base}/stage/bio`)).status, 405, 'GET says what it is');
  t.equal((await fetch(`${ts.base}/stage/bio/stage-${'0'.repeat(32)}`, { method: 'DELETE', headers: { Authorization: `Bearer ${token('b', 'learner')}` } })).status, 404, 'an unknown connection: 404');
  t.equal((await fetch(`${ts.base}/stage/bio/..%2f..`, { method: 'DELETE', headers: { Authorization: `Bearer ${token('b', 'learner')}` } })).status, 404, 'a path that is no connection: 404');
  t.equal((await fetch(`${ts.base}/stage/bio`, { method: 'OPTIONS' })).status, 204);

  // The instructor steps on stage (their voice is in the broadcast already: host).
  await studio.getByRole('button', { name: 'Join the stage' }).click();
  await waitFor('prof connected', () => ts.server.stage?.stats('bio').find((m) => m.userId === 'prof' && m.audioIn > 20), 20000);
  t.ok(ts.server.stage!.stats('bio').find((m) => m.userId === 'prof')!.host, 'the studio joins as the host');

  // Invite A from the participants list; A sees the invitation with its countdown and joins with camera and mic.
  await studio.getByRole('button', { name: 'Participants' }).click();
  await studio.getByRole('button', { name: 'invite Learner A on stage' }).click();
  await watchA.getByRole('alertdialog', { name: 'invitation to the stage' }).waitFor({ timeout: 10000 });
  t.match(await watchA.locator('.stage-invite').innerText(), /Prof\. Byron invites you on stage[\s\S]*s left to answer/);
  t.match(await watchA.locator('.stage-invite').innerText(), /the whole class will hear you and see you in a small picture over the lesson/, 'the invitation says the class will see A (stage.picture is on)');
  await watchA.screenshot({ path: join(shots, 'stage-invited-390.png'), fullPage: true });
  const joinedAt = Date.now();
  await watchA.getByRole('button', { name: 'Join with camera and microphone' }).click();
  await waitFor('A connected and mixed', () => ts.server.stage?.stats('bio').find((m) => m.userId === 'a' && m.mixed > 0), 20000, 20);
  const mixingAt = Date.now();
  // The broadcast's picture: A's tile shows A's camera once its decoder has a frame.
  const cameraAt = await waitFor('A\'s camera in the picture', () => (ts.server.stage?.picture('bio').shown(Date.now()).find((m) => m.camera) ? Date.now() : false), 10000, 20);
  t.ok(cameraAt - joinedAt < 8000, `A's camera is in the broadcast's picture ${cameraAt - joinedAt} ms after A chose to join`);
  t.same(ts.server.stage?.picture('bio').shown(Date.now()).map((m) => m.name), ['Learner A'], 'the picture has A\'s tile, not the host\'s (the instructor is the picture)');

  // Each hears the other: packets arrive and the browser decodes sound (energy grows).
  const a0 = await inbound(watchA);
  const p0 = await inbound(studio);
  await new Promise((res) => setTimeout(res, 2500));
  const a1 = await inbound(watchA);
  const p1 = await inbound(studio);
  t.ok(a1.packets - a0.packets > 50, `A receives prof's audio (${a1.packets - a0.packets} packets in 2.5 s)`);
  t.ok(a1.energy > a0.energy, `A's browser decodes prof's sound (energy ${a0.energy.toFixed(3)} → ${a1.energy.toFixed(3)})`);
  t.ok(p1.packets - p0.packets > 50, `prof receives A's audio (${p1.packets - p0.packets} packets in 2.5 s)`);
  t.ok(p1.energy > p0.energy, `prof's browser decodes A's sound (energy ${p0.energy.toFixed(3)} → ${p1.energy.toFixed(3)})`);
  await studio.waitForFunction(() => { const v = document.querySelector('.stage-tiles figure[data-user=a] video') as HTMLVideoElement | null; return !!v && v.videoWidth > 0; }, undefined, { timeout: 10000 });
  t.pass('the studio shows A\'s camera');
  t.match(await watchB.locator('.stage-members').innerText(), /Learner A/, 'B sees who is on stage');
  await studio.screenshot({ path: join(shots, 'stage-studio-1280.png'), fullPage: true });
  await studio.emulateMedia({ colorScheme: 'dark' });
  await studio.setViewportSize({ width: 390, height: 844 });
  await studio.screenshot({ path: join(shots, 'stage-studio-dark-390.png'), fullPage: true });
  await studio.setViewportSize({ width: 1280, height: 900 });
  await watchB.screenshot({ path: join(shots, 'stage-watching-1280.png') });
  await watchB.emulateMedia({ colorScheme: 'dark' });
  await watchB.screenshot({ path: join(shots, 'stage-watching-dark-1280.png') });
  await watchA.screenshot({ path: join(shots, 'stage-member-390.png'), fullPage: true });
  await watchA.emulateMedia({ colorScheme: 'dark' });
  await watchA.screenshot({ path: join(shots, 'stage-member-dark-390.png'), fullPage: true });
  await new Promise((res) => setTimeout(res, 6000));

  // Removed from the studio: the server cuts A's media within a second.
  const removedAt = Date.now();
  await studio.locator('.stage-members li[data-user=a]').getByRole('button', { name: 'Remove' }).click();
  const gone = await waitFor('A cut', () => (ts.server.stage!.stats('bio').some((m) => m.userId === 'a') ? false : Date.now()), 5000, 20);
  t.ok(gone - removedAt <= 1000, `A's tracks stop ${gone - removedAt} ms after the removal (≤ 1000)`);
  await watchA.getByText('The instructor took you off the stage.').waitFor({ timeout: 5000 });
  t.pass('A is told');
  const again = await fetch(`${ts.base}/stage/bio`, { method: 'POST', headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${token('a', 'learner')}` }, body: offer });
  t.equal(again.status, 403, 'a removed member cannot publish again');
  await new Promise((res) => setTimeout(res, 8000));

  // End the class; the recording's sound has A's tone while A was on stage and not after.
  pub.kill('SIGINT');
  await waitFor('the class to end', () => ts.server.live.current('bio') === undefined, 60000);
  const vod = join(ts.server.config['paths.media'], 'vod', session);
  const rung = readdirSync(vod).includes('audio') ? join(vod, 'audio') : join(vod, '240p');
  const playlist = readFileSync(join(rung, 'index.m3u8'), 'utf8');
  // When each segment's sound was captured: it ends when ffmpeg finished writing it (its mtime; the encoder's
  // delay is well under a second) and begins its duration earlier. (Its PROGRAM-DATE-TIME is not that: it counts
  // from the ladder's start, while the media begins with the class's first packet, held while the source is probed.)
  const segs: { from: number; to: number; file: string }[] = [];
  let dur = 0;
  for (const line of playlist.split('\n')) {
    if (line.startsWith('#EXTINF:')) dur = Number.parseFloat(line.slice(8)) * 1000;
    else if (line && !line.startsWith('#')) {
      const to = statSync(join(rung, line)).mtimeMs;
      segs.push({ from: to - dur - 1000, to, file: join(rung, line) });
    }
  }
  const during = segs.filter((s) => s.from >= mixingAt && s.to <= removedAt);
  const after = segs.filter((s) => s.from >= removedAt + 500);
  const before = segs.filter((s) => s.to <= joinedAt);
  t.ok(during.length >= 2 && after.length >= 2 && before.length >= 1, `segments before (${before.length}), during (${during.length}), after (${after.length})`);
  const lv = (s: { file: string }): number => level(s.file, 1000);
  const dur1k = during.map(lv);
  const after1k = after.map(lv);
  const before1k = before.map(lv);
  // The browser's noise suppression lowers a steady tone (-35 to -45 dB here); silence measures about -80 dB.
  t.ok(dur1k.every((l) => l > -60), `A's 1000 Hz tone is in the broadcast while A is on stage (${dur1k.map((l) => l.toFixed(1)).join(', ')} dB)`);
  t.ok(after1k.every((l) => l < -70), `and not after A was removed (${after1k.map((l) => l.toFixed(1)).join(', ')} dB)`);
  t.ok(before1k.every((l) => l < -70), `nor before A came on stage (${before1k.map((l) => l.toFixed(1)).join(', ')} dB)`);
  const class440 = during.map((s) => level(s.file, 440));
  t.ok(class440.every((l) => l > -40), `the class's own sound goes on beside it (${class440.map((l) => l.toFixed(1)).join(', ')} dB at 440 Hz)`);
  const host = segs.map((s) => level(s.file, 2500));
  t.ok(host.every((l) => l < -70), `the host's stage microphone is not mixed in again (2500 Hz: at most ${Math.max(...host).toFixed(1)} dB)`);

  // The composed picture: A's camera is a tile over the class's video (bottom right) while A is on stage, and not
  // before or after; joining and leaving changed the strip, never the ladder (no discontinuity, one ffmpeg run).
  t.notMatch(readFileSync(join(vod, '240p', 'index.m3u8'), 'utf8'), /#EXT-X-DISCONTINUITY/, 'no gap in the picture: the layout changed in the same stream');
  const video = (s: { file: string }): string => s.file.replace(rung, join(vod, '240p'));
  // The strip at 426 × 240: 362 × 40 px, 8 px from the corner; its last tile spans x 347–418 (its name band below y 225).
  const tileBox = { x: 352, y: 196, w: 60, h: 24 };
  const redDuring = during.filter((s) => s.from >= cameraAt).map((s) => redShare(video(s), 426, 240, tileBox, (s.to - s.from - 1000) / 1000));
  const redAfter = after.map((s) => redShare(video(s), 426, 240, tileBox, (s.to - s.from - 1000) / 1000));
  const redBefore = before.map((s) => redShare(video(s), 426, 240, tileBox, (s.to - s.from - 1000) / 1000));
  t.ok(redDuring.every((r) => r > 0.8), `A's camera (red) is a tile in the broadcast while A is on stage (${redDuring.map((r) => r.toFixed(2)).join(', ')} of the tile red)`);
  t.ok(redAfter.every((r) => r >= 0 && r < 0.2), `and gone after A left (${redAfter.map((r) => r.toFixed(2)).join(', ')})`);
  t.ok(redBefore.every((r) => r >= 0 && r < 0.2), `and not there before (${redBefore.map((r) => r.toFixed(2)).join(', ')})`);
  t.same(errors, [], 'no script errors on the three pages');
});
