// WHIP (RFC 9725) end to end without a browser: a werift publisher fed by a real ffmpeg (VP8 or H.264 + Opus) posts
// to the real server; the class runs through the same ladder, recording and replay as RTMP. Refusals over HTTP,
// the session URL (PATCH, DELETE), a reconnect within the grace, and 5 % loss on the UDP path.

import t from 'tap';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { ffprobe, freePort, listening, push, startTestServer, waitFor, type TestServer } from './helpers/server.js';
import { startFakeMux } from './helpers/fake-mux.js';
import { whipPublish, type WhipClient } from './helpers/whip-client.js';
import type { WhipStats } from '../src/ingest/webrtc.js';
import { signJoinToken } from '../src/auth/join-token.js';
import { loadJoinSecret } from '../src/auth/join-secret.js';
import { testdir } from './helpers/testdir.js';

const token = (ts: TestServer, channel: string, role: 'instructor' | 'learner'): string =>
  signJoinToken({ sub: `u-${role}`, name: role, role, channel, exp: Math.floor(Date.now() / 1000) + 3600 }, loadJoinSecret('', join(ts.dir, 'data')));

const post = (ts: TestServer, path: string, body: string, headers: Record<string, string>): Promise<Response> =>
  fetch(ts.base + path, { method: 'POST', body, headers });

const playing = (ts: TestServer, slug: string, rung: string, ms = 30000): Promise<unknown> => waitFor(`${slug} ${rung} segments`, async () => {
  const r = await ts.get(`/hls/${slug}/${rung}/index.m3u8`);
  return r.status === 200 && (await r.text()).includes('.ts');
}, ms);

async function server(t: Tap.Test, env: Record<string, string> = {}): Promise<TestServer> {
  const ts = await startTestServer(testdir(t), { KMK_WEBRTC_ENABLED: 'true', ...env });
  t.teardown(() => ts.server.stop());
  return ts;
}

t.test('whip refusals', async (t) => {
  const ts = await server(t);
  const { key } = ts.createChannel('bio', { ladder: ['360p'] });
  const other = ts.createChannel('chem', { ladder: ['360p'] });
  const opt = await fetch(`${ts.base}/whip/bio`, { method: 'OPTIONS' });
  t.equal(opt.status, 204);
  t.equal(opt.headers.get('accept-post'), 'application/sdp');
  const get = await ts.get('/whip/bio');
  t.equal(get.status, 405, 'a WHIP URL opened in a browser says what it is');
  t.match(await get.text(), /WHIP endpoint/);

  const noAuth = await post(ts, '/whip/bio', 'v=0\r\n', { 'Content-Type': 'application/sdp' });
  t.equal(noAuth.status, 401);
  t.equal(noAuth.headers.get('www-authenticate'), 'Bearer');
  const json = await post(ts, '/whip/bio', '{}', { 'Content-Type': 'application/json', Authorization: `Bearer ${key}` });
  t.equal(json.status, 415);
  const garbage = await post(ts, '/whip/bio', 'hello', { 'Content-Type': 'application/sdp', Authorization: `Bearer ${key}` });
  t.equal(garbage.status, 400);
  t.match(await garbage.text(), /not an SDP offer/);
  const nowhere = await post(ts, '/whip/nope', 'v=0\r\n', { 'Content-Type': 'application/sdp', Authorization: `Bearer ${key}` });
  t.equal(nowhere.status, 404);
  const huge = await post(ts, '/whip/bio', 'v=0\r\n' + 'a'.repeat(70 * 1024), { 'Content-Type': 'application/sdp', Authorization: `Bearer ${key}` });
  t.equal(huge.status, 413);

  const bad = await whipPublish(`${ts.base}/whip/bio`, 'k'.repeat(40));
  t.equal(bad.status, 401, 'unknown key');
  t.match(bad.body, /unknown or revoked stream key/);
  const crossed = await whipPublish(`${ts.base}/whip/bio`, other.key);
  t.equal(crossed.status, 401, 'another channel\'s key');
  const learner = await whipPublish(`${ts.base}/whip/bio`, token(ts, 'bio', 'learner'));
  t.equal(learner.status, 401, 'a learner\'s join token');
  t.equal(ts.server.store.sessions.list({ channel: 'bio' }).length, 0, 'no session was started by any of them');
  t.ok(ts.logs.every((l) => !l.includes(key)), 'the key is never logged');
  // Guessing keys: after ingest.maxFailuresPerMinute bad ones the address is slowed to one attempt a second (before
  // any WebRTC work), never locked out: the teacher behind the same school NAT still goes live.
  const answers: number[] = [];
  for (let i = 0; i < 14 && !answers.includes(429); i += 1) answers.push((await whipPublish(`${ts.base}/whip/bio`, `guess-${i}`.padEnd(40, 'x'))).status);
  t.equal(answers[answers.length - 1], 429, `throttled after ${answers.length - 1} more bad keys (${answers.join(', ')})`);
  t.ok(answers.slice(0, -1).every((s) => s !== 201 && s !== 429), 'refused as bad keys until then');
  t.equal((await whipPublish(`${ts.base}/whip/bio`, 'y'.repeat(40))).status, 429, 'at once again: slowed');
  await new Promise((r) => setTimeout(r, 1100));
  const teacher = await whipPublish(`${ts.base}/whip/bio`, key, { seconds: 2 });
  t.teardown(() => teacher.close());
  t.equal(teacher.status, 201, 'a valid key from the throttled address is taken a second later');
});

t.test('whip off', async (t) => {
  const ts = await startTestServer(testdir(t), { KMK_WEBRTC_ENABLED: 'false' });
  t.teardown(() => ts.server.stop());
  const { key } = ts.createChannel('bio', { ladder: ['360p'] });
  const r = await whipPublish(`${ts.base}/whip/bio`, key);
  t.equal(r.status, 404);
  t.match(r.body, /webrtc\.enabled/);
});

t.test('network settings', async (t) => {
  // The UDP range, the advertised address and the ICE servers of the configuration reach the answer and the browser.
  const ts = await startTestServer(testdir(t), {
    KMK_WEBRTC_ENABLED: 'true', KMK_WEBRTC_UDP_PORTS: '45100-45140', KMK_WEBRTC_PUBLIC_IP: '203.0.113.7',
    KMK_WEBRTC_STUN_URLS: 'stun:stun.school.example:3478', KMK_WEBRTC_TURN_URL: 'turn:turn.school.example:3478?transport=tcp',
    KMK_WEBRTC_TURN_USERNAME: 'kmk', KMK_WEBRTC_TURN_CREDENTIAL: 'pw-1',
  });
  t.teardown(() => ts.server.stop());
  const opt = await fetch(`${ts.base}/whip/bio`, { method: 'OPTIONS' });
  t.equal(opt.headers.get('link'), '<stun:stun.school.example:3478>; rel="ice-server", <turn:turn.school.example:3478?transport=tcp>; rel="ice-server"; username="kmk"; credential="pw-1"; credential-type="password"');
  const { key } = ts.createChannel('bio', { ladder: ['240p'] });
  const c = await whipPublish(`${ts.base}/whip/bio`, key, { seconds: 3 });
  t.teardown(() => c.close());
  t.equal(c.status, 201);
  const candidates = [...c.body.matchAll(/^a=candidate:\S+ \d+ udp \d+ (\S+) (\d+) typ host/gm)].map((m) => ({ ip: m[1], port: Number(m[2]) }));
  t.ok(candidates.length > 0 && candidates.every((x) => x.port >= 45100 && x.port <= 45140), `ports in webrtc.udpPorts: ${candidates.map((x) => x.port).join(', ')}`);
  t.ok(candidates.some((x) => x.ip === '203.0.113.7'), 'the advertised address is a candidate');
  await c.del();
});

t.test('vp8 publish, session url, replay', async (t) => {
  const ts = await server(t);
  const { key } = ts.createChannel('bio', { ladder: ['360p', '240p'] });
  const c = await whipPublish(`${ts.base}/whip/bio`, key, { codec: 'vp8' });
  t.teardown(() => c.close());
  t.equal(c.status, 201);
  t.match(c.location, /^\/whip\/bio\/whip-[0-9a-f]{32}$/);
  t.equal(c.headers.get('content-type'), 'application/sdp');
  t.match(c.body, /^v=0\r\n/);
  await playing(ts, 'bio', '360p');

  const url = ts.base + c.location!;
  const frag = 'a=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host\r\n';
  const patch = (headers: Record<string, string>, body = frag): Promise<Response> => fetch(url, { method: 'PATCH', body, headers });
  t.equal((await patch({ 'Content-Type': 'application/trickle-ice-sdpfrag', Authorization: `Bearer ${key}` })).status, 204, 'a trickled candidate');
  t.equal((await patch({ 'Content-Type': 'application/trickle-ice-sdpfrag' })).status, 401);
  t.equal((await patch({ 'Content-Type': 'application/trickle-ice-sdpfrag', Authorization: 'Bearer someone-else' })).status, 404, 'another bearer finds no session');
  t.equal((await patch({ 'Content-Type': 'text/plain', Authorization: `Bearer ${key}` })).status, 415);
  t.equal((await patch({ 'Content-Type': 'application/trickle-ice-sdpfrag', Authorization: `Bearer ${key}` }, 'a=ice-ufrag:new1\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\n')).status, 405, 'ICE restart: POST again');

  const second = await whipPublish(`${ts.base}/whip/bio`, key);
  t.equal(second.status, 409, 'a second publisher is refused while the first sends');
  t.match(second.body, /already live/);
  const byInstructor = await whipPublish(`${ts.base}/whip/bio`, token(ts, 'bio', 'instructor'));
  t.equal(byInstructor.status, 409, 'also with an instructor token');

  const session = ts.server.live.current('bio')!.sessionId;
  const row = ts.server.store.sessions.get(session);
  t.match(row.source, { codec: 'vp8', width: 640, height: 360, audioCodec: 'opus', ingest: 'whip' }, 'the session records a browser (WHIP) source');
  t.same(row.ladder, ['360p', '240p']);
  await new Promise((r) => setTimeout(r, 6000));
  const metrics = await (await ts.get('/metrics')).text();
  const series = (name: string): number => Number(new RegExp(`^${name}\\{[^}]*channel="bio"[^}]*\\} (\\S+)`, 'm').exec(metrics)?.[1] ?? NaN);
  t.ok(series('kmk_webrtc_packets_received_total') > 500, 'metrics: packets received from the browser');
  // Loopback UDP still drops packets when the box is starved of CPU (the socket buffer overflows): a few, not none.
  // A counter that never went up has no series yet: the metric is declared, its value 0.
  t.match(metrics, /^# HELP kmk_webrtc_packets_lost_total /m);
  const lost = Number.isNaN(series('kmk_webrtc_packets_lost_total')) ? 0 : series('kmk_webrtc_packets_lost_total');
  t.ok(lost < series('kmk_webrtc_packets_received_total') / 100, `metrics: packets given up (${lost}) under 1 %`);
  t.ok(series('kmk_ingest_received_bytes_total') > 100_000, 'metrics: ingest bytes (rate() is the bitrate)');
  t.ok(series('kmk_ingest_frames_per_second') >= 25, 'metrics: the frame rate measured from the RTP clock');
  t.ok(series('kmk_webrtc_rtt_seconds') >= 0, 'metrics: the round trip');
  t.match(metrics, /^kmk_webrtc_publishers(\{[^}]*\})? 1$/m);
  const del = await fetch(url, { method: 'DELETE', headers: { Authorization: `Bearer ${key}` } });
  t.equal(del.status, 200, 'DELETE ends the class');
  await waitFor('the class to end', () => ts.server.live.current('bio') === undefined, 20000);
  t.equal((await fetch(url, { method: 'DELETE', headers: { Authorization: `Bearer ${key}` } })).status, 404, 'the session URL is gone');
  t.match(ts.server.store.sessions.get(session), { endReason: 'publisher left', recorded: true });
  const report = await (await ts.get(`/api/sessions/${session}/report`, { Authorization: `Bearer ${token(ts, 'bio', 'instructor')}` })).json() as { session: { source?: string } };
  t.equal(report.session.source, 'browser (WHIP)', 'the class report says how the class came in');
  const probe = await ffprobe(`${ts.base}/vod/${session}/master.m3u8`);
  t.ok(probe.streams.some((s) => s.codec_type === 'video' && s.codec_name === 'h264'), 'the replay is H.264 (VP8 encoded once by the ladder)');
  t.ok(probe.streams.some((s) => s.codec_type === 'audio' && s.codec_name === 'aac'), 'Opus became AAC');
  t.ok(Number(probe.format?.duration) > 6, `the replay holds the class (${probe.format?.duration} s)`);
});

t.test('h264 like obs, instructor token', async (t) => {
  // stage.picture off: with the stage's tiles laid over the video, no top rung is passed through.
  const ts = await server(t, { KMK_STAGE_PICTURE: 'false' });
  ts.createChannel('bio', { ladder: ['360p', '240p'] });
  const c = await whipPublish(`${ts.base}/whip/bio`, token(ts, 'bio', 'instructor'), { codec: 'h264', gop: 60 });
  t.teardown(() => c.close());
  t.equal(c.status, 201, 'published with an instructor join token');
  await playing(ts, 'bio', '240p');
  const row = ts.server.store.sessions.get(ts.server.live.current('bio')!.sessionId);
  t.match(row.source, { codec: 'h264', width: 640, height: 360, ingest: 'whip' });
  t.match(row.topRung ?? '', /passed through/, 'H.264 from WebRTC may be passed through like RTMP\'s');
  const seg = await ffprobe(`${ts.base}/hls/bio/360p/index.m3u8`);
  t.match(seg.streams.find((s) => s.codec_type === 'video'), { codec_name: 'h264', width: 640, height: 360 });
});

t.test('the same class from another way in', async (t) => {
  const ts = await server(t);
  const { key } = ts.createChannel('bio', { ladder: ['240p'] });
  const obs = push(ts.rtmp(key), { seconds: 30, size: '640x360' });
  t.teardown(() => obs.kill('SIGKILL'));
  await playing(ts, 'bio', '240p');
  obs.kill('SIGKILL'); // OBS dropped: the class waits for it
  await waitFor('the class to wait for its publisher', () => ts.server.live.current('bio')?.state === 'reconnecting', 20000);
  const browser = await whipPublish(`${ts.base}/whip/bio`, key);
  t.teardown(() => browser.close());
  t.equal(browser.status, 409, 'a browser cannot take over a class its ladder reads from RTMP');
  t.match(browser.body, /live from RTMP \(OBS\): come back the same way, or end the class/);
});

t.test('over budget to mux', async (t) => {
  // A browser's class the box has no room for goes to Mux like an RTMP one: VP8 encoded once to H.264, Opus to AAC.
  const fake = await startFakeMux();
  t.teardown(() => fake.close());
  const sinkPort = await freePort();
  const ts = await startTestServer(testdir(t), {
    KMK_WEBRTC_ENABLED: 'true', KMK_MUX_TOKEN_ID: 'test-id', KMK_MUX_TOKEN_SECRET: 'test-secret-value', KMK_MUX_BASE_URL: fake.url,
    KMK_TRANSCODE_BUDGET_PIXELS_PER_SECOND: '5000000', KMK_MUX_INGEST_URL: `rtmp://127.0.0.1:${sinkPort}/app`,
  });
  t.teardown(() => ts.server.stop());
  const sinkFile = join(ts.dir, 'mux-ingest.flv');
  const sink = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-listen', '1', '-i', `rtmp://127.0.0.1:${sinkPort}/app/sk-ls1`, '-c', 'copy', '-f', 'flv', sinkFile]);
  const sinkDone = new Promise((r) => sink.once('exit', r));
  t.teardown(() => sink.kill('SIGKILL'));
  await waitFor('the RTMP sink to listen', () => listening(sinkPort), 20000);
  const { key } = ts.createChannel('bio', { ladder: ['360p', '240p'], overflow: 'mux', record: false });
  const c = await whipPublish(`${ts.base}/whip/bio`, key, { codec: 'vp8', seconds: 10 });
  t.teardown(() => c.close());
  t.equal(c.status, 201);
  await waitFor('the class on Mux', () => ts.server.live.snapshot().channels.find((x) => x.channel === 'bio')?.mode === 'mux', 20000);
  await new Promise((r) => setTimeout(r, 9000));
  t.equal((await c.del()).status, 200);
  await sinkDone;
  const probe = await ffprobe(sinkFile);
  t.match(probe.streams.find((s) => s.codec_type === 'video'), { codec_name: 'h264', width: 640, height: 360 }, 'Mux receives H.264');
  t.ok(probe.streams.some((s) => s.codec_type === 'audio' && s.codec_name === 'aac'), 'and AAC');
  t.ok(Number(probe.format?.duration) > 6, `the class reached Mux (${probe.format?.duration} s)`);
});

t.test('reconnect within grace', async (t) => {
  const ts = await server(t);
  const { key } = ts.createChannel('bio', { ladder: ['240p'] });
  const a = await whipPublish(`${ts.base}/whip/bio`, key);
  t.equal(a.status, 201);
  await playing(ts, 'bio', '240p');
  const session = ts.server.live.current('bio')!.sessionId;
  await a.close(); // the browser went away without a DELETE (a closed laptop lid, a lost network)
  await waitFor('the class to wait for its publisher', () => ts.server.live.current('bio')?.state === 'reconnecting', 20000);
  const b = await whipPublish(`${ts.base}/whip/bio`, key);
  t.teardown(() => b.close());
  t.equal(b.status, 201, 'the same key comes back within the grace');
  await waitFor('live again', () => ts.server.live.current('bio')?.state === 'live', 20000);
  t.equal(ts.server.live.current('bio')?.sessionId, session, 'the same session continues');
  t.equal(ts.server.store.sessions.get(session).reconnects, 1);
});

/** A class published through 5 % loss for 15 s: the longest the picture stood still at the ingest (no video frame
 * handed to the ladder; the ladder itself repeats the last frame through a gap, so its output cannot show it). */
async function throughLoss(t: Tap.Test, forGood: boolean, loss = 0.05): Promise<{ worst: number; client: WhipClient; stats: WhipStats }> {
  const ts = await server(t);
  const { key } = ts.createChannel('bio', { ladder: ['360p'] });
  // Keyframes every 4 s, as a browser sends them (only when asked): a frame lost for good would freeze the picture
  // until the next one, so only NACK and the jitter buffer keep it moving.
  const c = await whipPublish(`${ts.base}/whip/bio`, key, { codec: 'vp8', loss, lossForGood: forGood, kbps: 1200, gop: 120 });
  t.teardown(() => c.close());
  t.equal(c.status, 201);
  // Lost for good, every frame after a loss waits for the next keyframe: the class takes longer to start.
  await playing(ts, 'bio', '360p', 60000);
  const session = ts.server.live.current('bio')!.sessionId;
  await new Promise((r) => setTimeout(r, 15000));
  t.ok(c.sent.dropped > 50, `${c.sent.dropped} packets lost on the way`);
  const stats = ts.server.webrtc!.stats(c.location!.split('/').pop()!)!;
  t.comment(`server: ${stats.packets} packets, ${stats.lost} given up, ${stats.framesDropped} frames dropped waiting for a keyframe`);
  t.equal((await c.del()).status, 200);
  await waitFor('the class to end', () => ts.server.live.current('bio') === undefined, 20000);
  // The recording holds the whole class: every segment's length, across the discontinuities a starved ladder's
  // restart leaves (ffprobe's duration of such a playlist is the last run's only), and it plays.
  const playlist = await (await fetch(`${ts.base}/vod/${session}/360p/index.m3u8`)).text();
  const recorded = [...playlist.matchAll(/#EXTINF:([\d.]+)/g)].reduce((s, m) => s + Number(m[1]), 0);
  t.comment(`recording: ${recorded.toFixed(1)} s in ${playlist.split('#EXT-X-DISCONTINUITY\n').length} run(s)`);
  t.ok(recorded > 12, `the recording holds the class (${recorded.toFixed(1)} s)`);
  const probe = await ffprobe(`${ts.base}/vod/${session}/360p/index.m3u8`);
  t.ok(Number(probe.format?.duration) > 0, `the recording plays (${probe.format?.duration} s)`);
  return { worst: stats.longestStallMs / 1000, client: c, stats };
}

t.test('five per cent loss', async (t) => {
  const { worst, client } = await throughLoss(t, false);
  t.ok(client.sent.retransmitted > 20, `the server's NACKs brought ${client.sent.retransmitted} retransmissions`);
  t.ok(worst <= 1.0, `no stall longer than a second (the longest ${worst.toFixed(2)} s)`);
});

t.test('loss without retransmission freezes', async (t) => {
  // The measure above can see a stall: with every lost packet lost for good, frames wait for the next keyframe.
  // 2 %, not 5 %: a keyframe is ~30 packets, and at 5 % lost for good four in five never arrive whole, so whether
  // the class starts at all within a minute is chance (it timed out so, run alone); at 2 % it starts, and still
  // ~40 packets are lost in the 15 s, each freezing the picture until the next keyframe (every 4 s).
  const { worst, stats } = await throughLoss(t, true, 0.02);
  t.ok(worst > 1.0, `the picture stalled (the longest ${worst.toFixed(2)} s)`);
  t.ok(stats.framesDropped > 30, `${stats.framesDropped} frames dropped waiting for a keyframe`);
});
