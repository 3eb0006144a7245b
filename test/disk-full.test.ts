// A media disk that fills up mid-class (a real, small tmpfs when this machine lets us mount one; the same checks
// with an injected free-space reading always): the server notices and says so in the log, status, health and
// /metrics, keeps serving the last good playlist (never an empty 200), and refuses new classes below the floor.

import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Origin } from '../src/hls/origin.js';
import { DiskMonitor } from '../src/media/disk.js';
import { silentLogger } from '../src/log.js';
import { push, startTestServer, waitFor } from './helpers/server.js';
import { testdir } from './helpers/testdir.js';

t.test('origin: an empty or cut playlist on disk is never served; the last good one is', async (t) => {
  const media = testdir(t);
  const dir = join(media, 'live', 'c', '360p');
  mkdirSync(dir, { recursive: true });
  const bad: string[] = [];
  const origin = new Origin({ mediaDir: media, cacheBytes: 1 << 20, liveWindow: 6, onBadPlaylist: (p) => void bad.push(p) });
  const good = '#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:2.0,\na.ts\n';
  writeFileSync(join(dir, 'index.m3u8'), '');
  const none = await origin.serve('hls', 'c/360p/index.m3u8', '');
  t.equal(none.status, 503, 'no good playlist yet: 503 with Retry-After, not an empty 200');
  t.equal(none.headers['Retry-After'], '1');
  writeFileSync(join(dir, 'index.m3u8'), good);
  t.equal((await origin.serve('hls', 'c/360p/index.m3u8', '')).status, 200);
  writeFileSync(join(dir, 'index.m3u8'), Buffer.alloc(0)); // ENOSPC: ffmpeg renamed an empty file into place
  const stale = await origin.serve('hls', 'c/360p/index.m3u8', '');
  t.equal(stale.status, 200);
  t.match(String(stale.body), /^#EXTM3U/, 'the last good playlist');
  t.equal(origin.counters.stalePlaylists, 2);
  t.equal(bad.length, 2, 'each bad read reported');
});

t.test('disk monitor: below the floor it refuses new classes and says why; recovers when space returns', async (t) => {
  let free = 5 * 1024 * 1024 * 1024;
  const m = new DiskMonitor('/x', 1024 * 1024 * 1024, silentLogger, async () => free);
  await m.check();
  t.equal(m.refusal(), undefined);
  t.equal(m.state().message, null);
  free = 200 * 1024 * 1024;
  await m.check();
  t.match(m.refusal(), /the media disk is almost full \(200 MB free, floor 1024 MB\)/);
  t.equal(m.state().low, true);
  free = 2 * 1024 * 1024 * 1024;
  await m.check();
  t.equal(m.state().low, false);
  m.writeFailed('live/c/360p/index.m3u8', 1000);
  t.match(m.state(1000).message, /writes to the media disk are failing/);
  t.equal(m.state(1000 + 61_000).message, null, 'an old write error stops being news after a minute');
  t.equal(m.state().writeErrors, 1);
});

function mountTmpfs(dir: string, size: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

t.test('a real full disk mid-class: noticed, surfaced, last good playlists served, new classes refused', async (t) => {
  const dir = testdir(t);
  // Outside the test folder: tap removes that folder, and a mount point inside it would be busy.
  const media = mkdtempSync(join(tmpdir(), 'kmk-full-disk-'));
  if (!mountTmpfs(media, '6m')) {
    t.skip('this machine does not allow mounting a tmpfs (not root); the injected checks above cover the logic');
    return;
  }
  t.teardown(() => {
    try { execFileSync('umount', ['-l', media]); } catch { /* gone */ }
    rmSync(media, { recursive: true, force: true });
  });
  const ts = await startTestServer(dir, { KMK_PATHS_MEDIA: media, KMK_PATHS_MIN_FREE_MEGABYTES: '2' });
  t.teardown(() => ts.server.stop());
  const c = ts.createChannel('fills', { ladder: ['360p'], record: true });
  const pub = push(ts.rtmp(c.key), { seconds: 90, size: '640x360' });
  t.teardown(() => pub.kill('SIGKILL'));
  await waitFor('the class to play', async () => (await ts.get('/hls/fills/360p/index.m3u8')).status === 200, 30000);
  let emptyBodies = 0;
  let served = 0;
  const poll = setInterval(() => {
    void ts.get('/hls/fills/360p/index.m3u8').then(async (r) => {
      const body = await r.text();
      if (r.status === 200) {
        served += 1;
        if (!body.startsWith('#EXTM3U')) emptyBodies += 1;
      }
    }, () => {});
  }, 100);
  t.teardown(() => clearInterval(poll));
  await waitFor('the disk to be noticed as low', () => ts.server.status().disk.low || undefined, 60000);
  t.pass('free space below the floor noticed');
  await waitFor('a failed write to be noticed', () => ts.server.status().disk.writeErrors > 0 || undefined, 60000);
  await new Promise((r) => setTimeout(r, 3000)); // keep polling the playlist while the disk stays full
  clearInterval(poll);
  t.equal(emptyBodies, 0, `never an empty or cut playlist with 200 (${served} requests while the disk filled)`);
  t.ok(ts.logs.some((l) => l.includes('media disk below its free-space floor')), 'the log says the disk is low');
  t.ok(ts.logs.some((l) => l.includes('a write to the media disk failed')), 'and that writes fail');
  t.match(ts.server.status().disk.message, /media disk is almost full/);
  t.match(await (await ts.get('/metrics')).text(), /kmk_media_disk_low 1/);
  const other = ts.createChannel('refused', { ladder: ['360p'], record: false });
  const second = push(ts.rtmp(other.key), { seconds: 10, size: '640x360' });
  t.teardown(() => second.kill('SIGKILL'));
  await waitFor('the refusal', () => ts.logs.some((l) => /publish refused .*media disk is almost full/.test(l)) || undefined, 20000);
  t.equal(ts.server.live.current('refused'), undefined, 'no new class below the floor');
});
