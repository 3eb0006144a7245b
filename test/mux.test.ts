import t from 'tap';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startFakeMux } from './helpers/fake-mux.js';
import { postWebhook, signWebhook } from './helpers/mux-webhook.js';
import { STATUS_FILE, writeStatusFile } from '../src/cli/serve.js';
import { cli, cliAsync } from './helpers/cli.js';
import { ffprobe, freePort, listening, push, startTestServer, waitFor, type TestServer } from './helpers/server.js';
import { testdir } from './helpers/testdir.js';
import { Client } from './helpers/ws.js';
import { signJoinToken } from '../src/auth/join-token.js';
import { loadJoinSecret } from '../src/auth/join-secret.js';

const WEBHOOK_SECRET = 'whsec-test-'.padEnd(40, 'x');
const fake = await startFakeMux();
t.teardown(() => fake.close());
const muxEnv = (extra: Record<string, string> = {}) => ({
  KMK_MUX_TOKEN_ID: 'test-id', KMK_MUX_TOKEN_SECRET: 'test-secret-value', KMK_MUX_WEBHOOK_SECRET: WEBHOOK_SECRET,
  KMK_MUX_BASE_URL: fake.url, KMK_MUX_UPLOAD_CHUNK_BYTES: '262144', KMK_INGEST_RECONNECT_GRACE_SECONDS: '1', ...extra,
});

const sign = (body: string, secret = WEBHOOK_SECRET): string => signWebhook(body, secret);
const webhook = (ts: TestServer, body: string, signature = sign(body)) => postWebhook(ts.base, body, signature);

t.test('over budget with policy mux, the class is relayed unchanged to Mux and learners play Mux', async (t) => {
  const sinkPort = await freePort();
  const dir = testdir(t);
  // 5 Mpx/s: a 360p+240p ladder does not fit, so the mux policy sends the class to Mux.
  const ts = await startTestServer(dir, muxEnv({ KMK_TRANSCODE_BUDGET_PIXELS_PER_SECOND: '5000000', KMK_MUX_INGEST_URL: `rtmp://127.0.0.1:${sinkPort}/app` }));
  t.teardown(() => ts.server.stop());
  const sinkFile = join(dir, 'mux-ingest.flv');
  // The stand-in for Mux's ingest: ffmpeg listening for RTMP and keeping exactly what it receives.
  const sink = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-listen', '1', '-i', `rtmp://127.0.0.1:${sinkPort}/app/sk-ls1`, '-c', 'copy', '-f', 'flv', sinkFile]);
  const sinkDone = new Promise((r) => sink.once('exit', r));
  t.teardown(() => sink.kill('SIGKILL'));
  // Wait until the sink listens, without connecting to it (it accepts exactly one connection).
  await waitFor('the RTMP sink to listen', () => listening(sinkPort), 20000);
  const { key } = ts.createChannel('overflow', { ladder: ['360p', '240p'], overflow: 'mux', record: false });
  const pub = push(ts.rtmp(key), { seconds: 10, size: '640x360', gop: 45 });
  t.teardown(() => pub.kill('SIGKILL'));
  await waitFor('the class on Mux', () => ts.server.live.snapshot().channels.find((c) => c.channel === 'overflow')?.mode === 'mux', 20000);
  const playback = (await (await ts.get('/api/channels/overflow/playback')).json()) as { mode: string; url: string };
  t.same(playback, { mode: 'mux', url: 'https://stream.mux.com/pb-ls1.m3u8' });
  t.equal(fake.liveStreams, 1, 'one live stream created');
  t.ok(fake.requests.some((r) => r.path === '/video/v1/live-streams' && r.auth.startsWith('Basic ')), 'the real SDK authenticated');
  t.equal(ts.server.store.mux.channelStream('overflow').liveStreamId, 'ls1', 'ids stored on the channel');
  const view = ts.server.live.snapshot().channels.find((c) => c.channel === 'overflow')!;
  t.match(view.notes.join(' '), /relayed to Mux/);
  t.equal(view.pixelRate, 0, 'no local transcoding');
  // Mux's live stream webhooks are recorded on the channel and shown with the class; an older event changes nothing.
  const streamEvent = (id: string, status: string, at: string) => JSON.stringify({ id, type: `video.live_stream.${status}`, created_at: at, data: { id: 'ls1', status } });
  const muxStream = () => ts.server.status().channels.find((c) => c.channel === 'overflow')?.muxStream;
  t.equal(muxStream(), null, 'nothing known before Mux says');
  t.equal((await webhook(ts, streamEvent('evt-ls-2', 'active', '2026-11-24T10:00:02Z'))).status, 200);
  t.same(muxStream(), { status: 'active', at: '2026-11-24T10:00:02.000Z' });
  t.equal((await webhook(ts, streamEvent('evt-ls-1', 'idle', '2026-11-24T10:00:01Z'))).status, 200);
  t.equal(muxStream()?.status, 'active', 'an event that arrives late does not override a newer one');
  await writeStatusFile(join(ts.server.config['paths.data'], STATUS_FILE), ts.server.status()); // as `serve` does every 2 s
  const cliStatus = await cliAsync(ts.dir, ['status'], { KMK_PATHS_DATA: ts.server.config['paths.data'] });
  t.match(cliStatus.stdout, /Mux \(overflow; stream active\)/, '`kmk-live status` shows it');
  await pub.done;
  await sinkDone;
  const probe = await ffprobe(sinkFile);
  const video = probe.streams.find((s) => s.codec_type === 'video');
  t.match(video, { codec_name: 'h264', width: 640, height: 360, profile: 'Constrained Baseline' }, 'same codec, size and profile as the source: not re-encoded');
  t.ok(probe.streams.some((s) => s.codec_type === 'audio' && s.codec_name === 'aac'));
  // The whole class, its last seconds included (the ingest link ends the connection in order: ingest-link.ts).
  t.ok(Number(probe.format?.duration) > 9.5, `the sink got the whole class (${probe.format?.duration} s of 10)`);
  await waitFor('the class to end', () => ts.server.live.current('overflow') === undefined, 20000);
  const stopped = ts.logs.find((l) => l.includes('relay to Mux stopped'));
  t.match(stopped, /droppedBytes=0\b.*cleanEnds=1\b.*failedEnds=0\b/, `where the bytes went: ${stopped}`);
  const session = ts.server.store.sessions.list({ channel: 'overflow' })[0]!;
  t.match(ts.server.store.mux.sessionMux(session.id), { overflow: true });
  t.notOk(ts.logs.some((l) => l.includes('sk-ls1')), "Mux's stream key never reaches the log");

  // Mux creates the archive from the live stream: its asset.ready lands on the overflow session.
  const ready = JSON.stringify({ id: 'evt-live-1', type: 'video.asset.ready', data: { id: 'as-live', live_stream_id: 'ls1', playback_ids: [{ id: 'pb-as-live' }] } });
  t.equal((await webhook(ts, ready)).status, 200);
  t.match(ts.server.store.mux.sessionMux(session.id), { assetId: 'as-live', playbackId: 'pb-as-live' });
});

t.test('when Mux stays unreachable the class falls back to a reduced local ladder, and says so', async (t) => {
  const dead = await freePort(); // nothing listens there
  const ts = await startTestServer(testdir(t), muxEnv({ KMK_TRANSCODE_BUDGET_PIXELS_PER_SECOND: '5000000', KMK_MUX_INGEST_URL: `rtmp://127.0.0.1:${dead}/app` }));
  t.teardown(() => ts.server.stop());
  const { key } = ts.createChannel('fallback', { ladder: ['360p', '240p'], overflow: 'mux', record: false });
  const pub = push(ts.rtmp(key), { seconds: 40, size: '640x360', gop: 45 });
  t.teardown(() => pub.kill('SIGKILL'));
  await waitFor('the local master playlist', async () => (await ts.get('/hls/fallback/master.m3u8')).status === 200, 40000);
  const view = ts.server.live.snapshot().channels.find((c) => c.channel === 'fallback')!;
  t.equal(view.mode, 'local');
  t.same(view.ladder, ['240p'], 'reduced to what fits');
  t.match(view.notes.join(' '), /Mux relay failed .*fell back to a reduced local ladder/);
  t.same(await (await ts.get('/api/channels/fallback/playback')).json(), { mode: 'local', url: '/hls/fallback/master.m3u8' });
  t.ok(ts.logs.some((l) => l.includes('relay to Mux gave up')));
});

t.test('archive: the recording is uploaded whole, survives a restart mid-upload, and a signed webhook marks it ready', async (t) => {
  const dir = testdir(t);
  let ts = await startTestServer(dir, muxEnv());
  t.teardown(() => ts.server.stop());
  const c = ts.createChannel('archived', { ladder: ['360p'], record: true });
  ts.server.store.channels.update('archived', { archive: true });
  fake.failUploads = false;
  fake.failAfterChunks = 2; // Mux takes two chunks, then becomes unreachable
  const pub = push(ts.rtmp(c.key), { seconds: 12, size: '640x360' });
  await pub.done;
  const session = await waitFor('the session to end', () => ts.server.store.sessions.list({ channel: 'archived' }).find((s) => s.endedAt));
  const job0 = await waitFor('two chunks uploaded and the third refused', () => {
    const j = ts.server.store.mux.job(session.id);
    return j && j.bytesSent === 2 * 262144 && j.attempts >= 1 ? j : undefined;
  }, 30000);
  fake.failUploads = true;
  fake.failAfterChunks = undefined;
  t.ok(job0.size! > 3 * 262144, `the MP4 (${job0.size} bytes) needs several chunks`);
  t.match(job0.error, /HTTP 503/, 'the refusal is recorded on the job');
  await ts.server.stop();
  const sentBefore = fake.chunks.filter((ch) => ch.upload === job0.uploadId).reduce((n, ch) => n + ch.end - ch.start + 1, 0);
  t.ok(sentBefore < job0.size!, 'stopped before the end');
  fake.failUploads = false;
  ts = await startTestServer(dir, muxEnv());
  // 'processing' is written when the last chunk is in, and the asset id just after, from Mux's answer: wait for both.
  const job = await waitFor('the upload to finish after the restart', () => {
    const j = ts.server.store.mux.job(session.id);
    return j && j.status === 'processing' && j.assetId ? j : undefined;
  }, 60000);
  const chunks = fake.chunks.filter((ch) => ch.upload === job.uploadId);
  t.equal(chunks[0]?.start, 0);
  t.ok(chunks.every((ch, i) => i === 0 || ch.start === chunks[i - 1]!.end + 1), 'each chunk continues where the last ended: nothing re-sent from 0');
  const file = join(ts.server.config['paths.media'], 'vod', session.id, 'archive.mp4');
  t.equal(fake.uploads.get(job.uploadId!)?.bytes, statSync(file).size, 'the fake received the whole file');
  t.equal(fake.sha256(job.uploadId!), createHash('sha256').update(readFileSync(file)).digest('hex'), 'byte for byte');
  t.equal(job.sha256, fake.sha256(job.uploadId!));
  t.equal(job.assetId, fake.uploads.get(job.uploadId!)?.assetId, 'the asset id from the upload');
  const probe = await ffprobe(file);
  t.ok(probe.streams.some((s) => s.codec_type === 'video' && s.codec_name === 'h264') && probe.streams.some((s) => s.codec_type === 'audio'), 'remuxed MP4 with video and audio');

  const event = (id: string, playback: string) => JSON.stringify({ id, type: 'video.asset.ready', data: { id: job.assetId, upload_id: job.uploadId, playback_ids: [{ id: playback }] } });
  t.equal((await webhook(ts, event('evt-1', 'pb-first'), 't=1,v1=deadbeef')).status, 401, 'a bad signature is refused');
  t.equal((await webhook(ts, event('evt-1', 'pb-first'), sign(event('evt-1', 'pb-first'), 'wrong-secret'))).status, 401, 'a signature with another secret too');
  t.equal(ts.server.store.mux.job(session.id)?.status, 'processing', 'nothing changed');
  const ok = await webhook(ts, event('evt-1', 'pb-first'));
  t.equal(ok.status, 200);
  t.match(ts.server.store.mux.job(session.id), { status: 'ready', playbackId: 'pb-first' });
  t.match(ts.server.store.mux.sessionMux(session.id), { assetId: job.assetId, playbackId: 'pb-first' });
  const again = await webhook(ts, event('evt-1', 'pb-other'));
  t.match(await again.json(), { duplicate: true }, 'a replayed event is recognised');
  t.equal(ts.server.store.mux.sessionMux(session.id)?.playbackId, 'pb-first', 'and changes nothing');
  t.ok(existsSync(file), 'local files are kept unless mux.deleteLocalAfterArchive is on');
});

t.test('archive: the transcript goes with the recording as a subtitle track Mux fetches from the box', async (t) => {
  const dir = testdir(t);
  const ts = await startTestServer(dir, muxEnv());
  t.teardown(() => ts.server.stop());
  const c = ts.createChannel('captioned', { ladder: ['360p'], record: true, public: false, captions: ['en'] });
  ts.server.store.channels.update('captioned', { archive: true });
  fake.failUploads = false;
  fake.failAfterChunks = undefined;
  const pub = push(ts.rtmp(c.key), { seconds: 10, size: '640x360' });
  t.teardown(() => pub.kill('SIGKILL'));
  await waitFor('the class', () => ts.server.live.current('captioned')?.state === 'live', 30000);
  const secret = loadJoinSecret('', ts.server.config['paths.data']);
  const cap = await Client.connect(`${ts.base.replace('http', 'ws')}/ws?token=${signJoinToken({ sub: 'cap', name: 'Cap', role: 'captioner', channel: 'captioned', exp: Math.floor(Date.now() / 1000) + 600 }, secret)}`);
  t.teardown(() => cap.close());
  await cap.waitFor('welcome', () => cap.messages.find((m) => m.t === 'welcome'));
  cap.send({ t: 'caption', text: 'Archived with its words', start: Date.now() - 2000 });
  await cap.waitFor('the line', () => cap.events.find((e) => e.t === 'caption'));
  await pub.done;
  const session = await waitFor('the session to end', () => ts.server.store.sessions.list({ channel: 'captioned' }).find((s) => s.endedAt));
  const job = await waitFor('the upload', () => ts.server.store.mux.job(session.id)?.uploadId ? ts.server.store.mux.job(session.id) : undefined, 60000);
  const inputs = fake.uploads.get(job!.uploadId!)?.settings?.inputs as { url: string }[] | undefined;
  t.match(inputs, [{ type: 'text', text_type: 'subtitles', language_code: 'en', name: 'English', closed_captions: true, url: new RegExp(`^${ts.base}/vod/${session.id}/captions-en/transcript\\.vtt\\?pt=`) }],
    'the upload asks Mux to take the transcript as an English subtitle track');
  const got = await fetch(inputs![0]!.url); // what Mux does: fetch it, without a join token
  t.equal(got.status, 200, 'the private class\'s transcript is fetched with the token in its URL');
  t.match(await got.text(), /^WEBVTT\n[\s\S]*Archived with its words/);
  t.equal((await fetch(inputs![0]!.url.split('?')[0]!)).status, 403, 'and not without it');
});

t.test('without Mux the server says so; `kmk-live session archive` uploads a recording later with a progress bar', async (t) => {
  const dir = testdir(t);
  const ts = await startTestServer(dir);
  t.equal((await fetch(`${ts.base}/webhooks/mux`, { method: 'POST', body: '{}' })).status, 404);
  t.ok(ts.logs.some((l) => l.includes('Mux not configured')));
  const c = ts.createChannel('later-archive', { ladder: ['360p'], record: true });
  await push(ts.rtmp(c.key), { seconds: 6, size: '640x360' }).done;
  const session = await waitFor('the session to end', () => ts.server.store.sessions.list({ channel: 'later-archive' }).find((s) => s.endedAt), 20000);
  await ts.server.stop();
  const env = { ...muxEnv(), KMK_PATHS_DATA: ts.server.config['paths.data'], KMK_PATHS_MEDIA: ts.server.config['paths.media'] };
  const none = cli(dir, ['session', 'archive', session.id]);
  t.equal(none.code, 2);
  t.match(none.stderr, 'Mux is not configured');
  const r = await cliAsync(dir, ['session', 'archive', session.id], env);
  t.equal(r.code, 0, 'exit 0', { stderr: r.stderr.slice(-1500), stdout: r.stdout });
  t.match(r.stderr, /uploading\s+\[#{20}\] 100%/, 'a progress bar to 100%');
  t.match(r.stdout, /Archive processing/);
  const shown = cli(dir, ['session', 'show', session.id], env);
  t.match(shown.stdout, /archive:\s+processing — \[#{20}\] 100%/);
  t.equal((await cliAsync(dir, ['session', 'archive', 's_zzzzzzzzzzzzzzzz'], env)).code, 2, 'unknown session');
});
