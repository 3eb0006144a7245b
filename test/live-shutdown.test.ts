import t from 'tap';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { openStore } from '../src/store/index.js';
import { liveDir, push, startTestServer, waitFor } from './helpers/server.js';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

t.test('stopping the server while a class is already ending waits for that end: ffmpeg gone, recording kept', async (t) => {
  const ts = await startTestServer(t.testdir(), { KMK_INGEST_RECONNECT_GRACE_SECONDS: '1' });
  let stopped = false;
  t.teardown(() => (stopped ? undefined : ts.server.stop()));
  const { key } = ts.createChannel('bye', { ladder: ['360p'], record: true });
  const pub = push(ts.rtmp(key), { seconds: 30, size: '640x360' });
  t.teardown(() => pub.kill('SIGKILL'));
  await waitFor('the class to be live', async () => (await ts.get('/hls/bye/master.m3u8')).status === 200, 30000);
  const view = () => ts.server.live.snapshot().channels.find((c) => c.channel === 'bye');
  const pid = view()?.transcoder?.pid;
  t.ok(pid, 'ffmpeg runs');
  const sessionId = view()!.sessionId;
  pub.kill('SIGKILL');
  // The grace timer's end is in flight: the transcoder is finishing its playlists.
  await waitFor('the class to be ending', () => view()?.state === 'ending', 10000, 2);
  await ts.server.stop();
  stopped = true;
  t.notOk(alive(pid!), 'the ladder process has exited when stop() returns');
  t.notOk(existsSync(liveDir(ts, 'bye')), 'nothing is left in the live folder');
  const vod = join(ts.server.config['paths.media'], 'vod', sessionId);
  t.ok(readdirSync(vod).includes('master.m3u8'), 'the recording was moved to the VOD folder');
  const store = openStore(join(ts.server.config['paths.data'], 'kmk.db'));
  t.teardown(() => store.close());
  t.match(store.sessions.get(sessionId), { endReason: 'publisher left', endedAt: String }, 'the session row was ended by the first end, before the store closed');
});
