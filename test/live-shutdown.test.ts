import t from 'tap';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { openStore } from '../src/store/index.js';
import { ffprobe, liveDir, mediaWorkers, push, startTestServer, waitFor } from './helpers/server.js';
import { testdir } from './helpers/testdir.js';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

t.test('stopping the server while a class is already ending waits for that end: ffmpeg gone, recording kept', async (t) => {
  const ts = await startTestServer(testdir(t), { KMK_INGEST_RECONNECT_GRACE_SECONDS: '1' });
  let stopped = false;
  t.teardown(() => (stopped ? undefined : ts.server.stop()));
  const { key } = ts.createChannel('bye', { ladder: ['360p'], record: true });
  const pub = push(ts.rtmp(key), { seconds: 30, size: '640x360' });
  t.teardown(() => pub.kill('SIGKILL'));
  await waitFor('the class to be live', async () => (await ts.get('/hls/bye/master.m3u8')).status === 200, 30000);
  const view = () => ts.server.live.snapshot().channels.find((c) => c.channel === 'bye');
  const pid = view()?.transcoder?.pid;
  t.ok(pid, 'ffmpeg runs');
  t.ok(mediaWorkers(ts).some((c) => c.includes('ffmpeg')), 'the ladder shows among the media workers while live (the check below can fail)');
  const sessionId = view()!.sessionId;
  pub.kill('SIGKILL');
  // The grace timer's end is in flight: the transcoder is finishing its playlists.
  await waitFor('the class to be ending', () => view()?.state === 'ending', 10000, 2);
  await ts.server.stop();
  stopped = true;
  t.notOk(alive(pid!), 'the ladder process has exited when stop() returns');
  t.same(mediaWorkers(ts), [], 'no media worker of ours is left');
  t.notOk(existsSync(liveDir(ts, 'bye')), 'nothing is left in the live folder');
  const vod = join(ts.server.config['paths.media'], 'vod', sessionId);
  t.ok(readdirSync(vod).includes('master.m3u8'), 'the recording was moved to the VOD folder');
  const store = openStore(join(ts.server.config['paths.data'], 'kmk.db'));
  t.teardown(() => store.close());
  t.match(store.sessions.get(sessionId), { endReason: 'publisher left', endedAt: String }, 'the session row was ended by the first end, before the store closed');
});

t.test('a class that ends before its first segment is complete still keeps a playable recording', async (t) => {
  const ts = await startTestServer(testdir(t), { KMK_INGEST_RECONNECT_GRACE_SECONDS: '0' });
  t.teardown(() => ts.server.stop());
  const { key } = ts.createChannel('brief', { ladder: ['360p'], record: true });
  // 1.8 s of media with a keyframe every 0.5 s (so the source probe is done early and the ladder starts): less
  // than one 2 s segment, so the master playlist can only come from the segments flushed at the end.
  await push(ts.rtmp(key), { seconds: 1.8, size: '640x360', gop: 15 }).done;
  const session = await waitFor('the session to end', () => ts.server.store.sessions.list({ channel: 'brief' }).find((s) => s.endedAt), 20000);
  const r = await ts.get(`/vod/${session.id}/master.m3u8`);
  t.equal(r.status, 200, 'the replay has a master playlist');
  const probe = await ffprobe(`${ts.base}/vod/${session.id}/master.m3u8`);
  t.ok(probe.streams.some((s) => s.codec_type === 'video'), 'and plays');
  t.ok(Number(probe.format?.duration) > 1, `duration ${probe.format?.duration} s`);
});
