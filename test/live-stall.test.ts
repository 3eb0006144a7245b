// A publisher that stops sending with its TCP connection open (a frozen encoder, dead Wi-Fi) no longer holds the
// channel: it is dropped after ingest.stallSeconds and the instructor's next publish continues the same class.

import t from 'tap';
import { push, startTestServer, waitFor } from './helpers/server.js';

t.test('a stalled publisher is dropped and a new publish with the key takes over the same session', async (t) => {
  const ts = await startTestServer(t.testdir(), { KMK_INGEST_STALL_SECONDS: '3', KMK_INGEST_RECONNECT_GRACE_SECONDS: '30' });
  t.teardown(() => ts.server.stop());
  const { key } = ts.createChannel('frozen', { ladder: ['360p'], record: false });
  const first = push(ts.rtmp(key), { seconds: 60, size: '640x360' });
  t.teardown(() => first.kill('SIGKILL'));
  const live = await waitFor('the class to be live', () => (ts.server.live.current('frozen')?.state === 'live' ? ts.server.live.current('frozen') : undefined), 30000);
  first.kill('SIGSTOP'); // the encoder freezes; its TCP connection stays open
  const frozeAt = Date.now();
  await waitFor('the stalled publisher to be dropped', () => ts.server.live.current('frozen')?.state === 'reconnecting' || undefined, 15000);
  const after = (Date.now() - frozeAt) / 1000;
  t.ok(after >= 2.5 && after < 10, `dropped ${after.toFixed(1)} s after it froze (stallSeconds 3)`);
  t.ok(ts.logs.some((l) => l.includes('publisher sent nothing')), 'the log says why');

  const second = push(ts.rtmp(key), { seconds: 8, size: '640x360' });
  t.teardown(() => second.kill('SIGKILL'));
  const back = await waitFor('the new publish to continue the class', () => (ts.server.live.current('frozen')?.state === 'live' ? ts.server.live.current('frozen') : undefined), 15000);
  t.equal(back.sessionId, live.sessionId, 'the same session');
  t.equal(ts.server.store.sessions.find(live.sessionId)!.reconnects, 1, 'counted as a reconnect');
  first.kill('SIGKILL');
});
