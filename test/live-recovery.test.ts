import t from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as HLS from 'hls-parser';
import { liveDir, push, startTestServer, waitFor } from './helpers/server.js';
import { testdir } from './helpers/testdir.js';

const ts = await startTestServer(testdir(t), { KMK_INGEST_RECONNECT_GRACE_SECONDS: '6' });
t.teardown(() => ts.server.stop());

const newestSegmentTime = (dir: string): number =>
  Math.max(0, ...readdirSync(dir).filter((f) => f.endsWith('.ts')).map((f) => statSync(join(dir, f)).mtimeMs));

const transcoder = (slug: string) => ts.server.live.snapshot().channels.find((c) => c.channel === slug)?.transcoder;

t.test('a killed ffmpeg is restarted: new segments within 5 s after a discontinuity', async (t) => {
  const { key } = ts.createChannel('crash', { ladder: ['480p', '360p'] });
  const pub = push(ts.rtmp(key), { seconds: 40, size: '854x480' });
  t.teardown(() => pub.kill('SIGKILL'));
  const dir = join(liveDir(ts, 'crash'), '360p');
  await waitFor('the class to be live', async () => (await ts.get('/hls/crash/master.m3u8')).status === 200);
  const pid = transcoder('crash')?.pid;
  t.ok(pid, 'ffmpeg runs');
  process.kill(pid!, 'SIGKILL');
  const killedAt = Date.now();
  await waitFor('a segment written after the kill', () => newestSegmentTime(dir) > killedAt + 100, 5000);
  t.pass(`new segment ${((newestSegmentTime(dir) - killedAt) / 1000).toFixed(1)} s after the kill`);
  const status = transcoder('crash');
  t.equal(status?.restarts, 1);
  t.not(status?.pid, pid, 'a new process');
  t.match(status?.lastError, /killed \(SIGKILL\)/);
  const playlist = await waitFor('the discontinuity in the playlist', async () => {
    const text = await (await ts.get('/hls/crash/360p/index.m3u8')).text();
    return text.includes('#EXT-X-DISCONTINUITY') ? text : undefined;
  });
  t.match(playlist, /#EXT-X-DISCONTINUITY\n(#EXT-X-PROGRAM-DATE-TIME.*\n)?#EXTINF/);
  pub.kill('SIGKILL');
  await waitFor('the class to end', () => ts.server.live.current('crash') === undefined, 20000);
  t.equal(ts.server.store.sessions.list({ channel: 'crash' })[0]?.restarts, 1, 'restarts recorded on the session');
});

t.test('a publisher that drops and comes back within the grace window continues the same session', async (t) => {
  const { key } = ts.createChannel('flaky', { ladder: ['360p'] });
  const first = push(ts.rtmp(key), { seconds: 8, size: '640x360' });
  await waitFor('the class to be live', async () => (await ts.get('/hls/flaky/master.m3u8')).status === 200);
  const sessionId = ts.server.live.current('flaky')?.sessionId;
  await first.done;
  await waitFor('the server to notice the drop', () => ts.server.live.current('flaky')?.state === 'reconnecting');
  const second = push(ts.rtmp(key), { seconds: 8, size: '640x360' });
  t.teardown(() => second.kill('SIGKILL'));
  await waitFor('the class to be live again', () => ts.server.live.current('flaky')?.state === 'live');
  t.equal(ts.server.live.current('flaky')?.sessionId, sessionId, 'same session');
  const segments = await waitFor('the playlist to continue after a discontinuity', async () => {
    const p = HLS.parse(await (await ts.get('/hls/flaky/360p/index.m3u8')).text()) as HLS.types.MediaPlaylist;
    const cut = p.segments.findIndex((s, i) => i > 0 && s.discontinuity);
    return cut > 0 && p.segments.length - cut >= 2 ? p.segments : undefined;
  }, 25000);
  t.ok(segments.length >= 4, 'segments from before the drop are still listed, then the new ones');
  await second.done;
  await waitFor('the class to end', () => ts.server.live.current('flaky') === undefined, 30000);
  const sessions = ts.server.store.sessions.list({ channel: 'flaky' });
  t.equal(sessions.length, 1, 'one session row');
  t.match(sessions[0], { id: sessionId, reconnects: 1, endReason: 'publisher left' });
  const vod = readFileSync(join(ts.server.config['paths.media'], 'vod', sessionId!, '360p', 'index.m3u8'), 'utf8');
  t.match(vod, '#EXT-X-DISCONTINUITY');
  t.match(vod, '#EXT-X-ENDLIST');
});

t.test('a stalled ffmpeg cannot grow memory: media is dropped and counted, then flow resumes', async (t) => {
  const { key } = ts.createChannel('stall', { ladder: ['720p'] });
  const pub = push(ts.rtmp(key), { seconds: 90, size: '1280x720' });
  t.teardown(() => pub.kill('SIGKILL'));
  await waitFor('the class to be live', async () => (await ts.get('/hls/stall/master.m3u8')).status === 200, 30000);
  const pid = transcoder('stall')!.pid!;
  process.kill(pid, 'SIGSTOP');
  t.teardown(() => {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // already gone
    }
  });
  const stalled = await waitFor('the pipe to start dropping', () => {
    const s = transcoder('stall');
    return s && s.pipe.droppedBytes > 0 ? s : undefined;
  }, 30000);
  await new Promise((r) => setTimeout(r, 3000)); // keep pushing into the stalled process
  const later = transcoder('stall')!;
  const limit = 8 * 1024 * 1024;
  t.ok(later.pipe.peakBufferedBytes <= limit + 512 * 1024, `buffered bytes stay bounded (peak ${later.pipe.peakBufferedBytes} of ${limit})`);
  t.ok(later.pipe.droppedBytes > stalled.pipe.droppedBytes, `drops are counted (${later.pipe.droppedBytes} bytes)`);
  const metrics = await (await ts.get('/metrics')).text();
  t.match(metrics, /kmk_pipe_dropped_bytes_total\{channel="stall"\} [1-9]/);
  const slow = await waitFor('the stalled ladder to be reported slow', () => transcoder('stall')?.slow || undefined, 20000);
  t.ok(slow, 'status says the ladder cannot keep up');
  t.ok(ts.logs.some((l) => l.includes('ladder cannot keep up with real time')), 'and the log says so');
  t.ok(ts.server.live.snapshot().channels.find((c) => c.channel === 'stall')?.slow, 'the channel view carries it');
  process.kill(pid, 'SIGCONT');
  const dir = join(liveDir(ts, 'stall'), '720p');
  const resumedAt = Date.now();
  await waitFor('segments after the stall', () => newestSegmentTime(dir) > resumedAt + 500, 15000);
  t.pass('segments flow again after the stall');
});
