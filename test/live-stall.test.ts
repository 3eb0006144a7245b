// A publisher that stops sending with its TCP connection open (a frozen encoder, dead Wi-Fi) no longer holds the
// channel: it is dropped after ingest.stallSeconds and the instructor's next publish continues the same class.

import t from 'tap';
import { push, startTestServer, waitFor } from './helpers/server.js';
import { testdir } from './helpers/testdir.js';

t.test('a stalled publisher is dropped and a new publish with the key takes over the same session', async (t) => {
  const ts = await startTestServer(testdir(t), { KMK_INGEST_STALL_SECONDS: '3', KMK_INGEST_RECONNECT_GRACE_SECONDS: '30' });
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

t.test('a new publish with the key takes over a frozen publisher at once, before the stall timeout', async (t) => {
  const ts = await startTestServer(testdir(t), { KMK_INGEST_STALL_SECONDS: '20', KMK_INGEST_RECONNECT_GRACE_SECONDS: '30' });
  t.teardown(() => ts.server.stop());
  const { key } = ts.createChannel('takeover', { ladder: ['360p'], record: false });
  const first = push(ts.rtmp(key), { seconds: 60, size: '640x360' });
  t.teardown(() => first.kill('SIGKILL'));
  const live = await waitFor('the class to be live', () => (ts.server.live.current('takeover')?.state === 'live' ? ts.server.live.current('takeover') : undefined), 30000);
  // A second encoder while the first still sends is refused: two OBS on one key never fight over the class.
  const rival = push(ts.rtmp(key), { seconds: 5, size: '640x360' });
  t.teardown(() => rival.kill('SIGKILL'));
  await waitFor('the rival to be refused', () => ts.logs.some((l) => /publish refused .*already live/.test(l)) || undefined, 15000);
  first.kill('SIGSTOP'); // the encoder freezes; its TCP connection stays open
  await new Promise((r) => setTimeout(r, 3500));
  t.equal(ts.server.live.current('takeover')?.state, 'live', 'not yet dropped (stallSeconds 20)');
  const tookAt = Date.now();
  const second = push(ts.rtmp(key), { seconds: 10, size: '640x360' });
  t.teardown(() => second.kill('SIGKILL'));
  await waitFor('the takeover', () => ts.logs.some((l) => l.includes('a new publish takes over from a publisher that stopped sending')) || undefined, 10000);
  const took = (Date.now() - tookAt) / 1000;
  t.ok(took < 8, `taken over ${took.toFixed(1)} s after the new publish started (the stall timeout is 20 s)`);
  const back = await waitFor('the class to continue', () => (ts.server.live.current('takeover')?.state === 'live' ? ts.server.live.current('takeover') : undefined), 15000);
  t.equal(back.sessionId, live.sessionId, 'the same session');
  await new Promise((r) => setTimeout(r, 4000));
  t.equal(ts.server.live.current('takeover')?.state, 'live', 'and it stays live on the new publisher (node-media-server let it publish)');
  t.notOk(ts.logs.some((l) => l.includes('publisher dropped; waiting')), 'the new publisher was never dropped');
  t.equal(ts.server.store.sessions.find(live.sessionId)!.reconnects, 1, 'counted as a reconnect');
  first.kill('SIGKILL');
});

t.test('while a class waits for its publisher to come back, the starved ladder is not reported as slow', async (t) => {
  const ts = await startTestServer(testdir(t), { KMK_INGEST_RECONNECT_GRACE_SECONDS: '40' });
  t.teardown(() => ts.server.stop());
  const { key } = ts.createChannel('away', { ladder: ['360p'], record: false });
  const pub = push(ts.rtmp(key), { seconds: 60, size: '640x360' });
  t.teardown(() => pub.kill('SIGKILL'));
  await waitFor('the class to be live', () => ts.server.live.current('away')?.state === 'live' || undefined, 30000);
  pub.kill('SIGKILL'); // dead Wi-Fi: the connection drops
  await waitFor('reconnecting', () => ts.server.live.current('away')?.state === 'reconnecting' || undefined, 10000);
  await new Promise((r) => setTimeout(r, 14000)); // longer than the 10 s a slow ladder takes to be reported
  t.notOk(ts.logs.some((l) => l.includes('ladder cannot keep up')), 'no "cannot keep up" warning while the publisher is away');
  t.equal(ts.server.live.snapshot().channels.find((c) => c.channel === 'away')?.slow, false);
});
