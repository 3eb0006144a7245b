// Sources the ladder cannot pass through as they are, and a ladder that keeps failing: a 10-bit 4:4:4 H.264
// publish (what OBS sends with I444/P010 colour formats) is converted to 8-bit 4:2:0 on every rung and plays; a
// ladder that fails on every start is reported as a crash loop in status and the studio, with ffmpeg's own line.

import t from 'tap';
import { chmodSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { signJoinToken } from '../src/auth/join-token.js';
import { loadJoinSecret } from '../src/auth/join-secret.js';
import { ffprobe, liveDir, push, startTestServer, waitFor } from './helpers/server.js';
import { testdir } from './helpers/testdir.js';

t.test('a 10-bit 4:4:4 H.264 source is converted to 8-bit 4:2:0 on every rung (never copied) and plays', async (t) => {
  const ts = await startTestServer(testdir(t));
  t.teardown(() => ts.server.stop());
  const c = ts.createChannel('hi444', { ladder: ['360p', '240p'], record: false });
  const pub = push(ts.rtmp(c.key), { seconds: 30, size: '640x360', pixFmt: 'yuv444p10le' });
  t.teardown(() => pub.kill('SIGKILL'));
  await waitFor('the master playlist', async () => (await ts.get('/hls/hi444/master.m3u8')).status === 200, 40000);
  const view = ts.server.live.snapshot().channels.find((x) => x.channel === 'hi444')!;
  t.same(view.ladder, ['360p', '240p'], 'both rungs encoded, the top one not copied');
  for (const rung of ['360p', '240p']) {
    const dir = join(liveDir(ts, 'hi444'), rung);
    const seg = readdirSync(dir).filter((f) => f.endsWith('.ts')).sort()[0]!;
    const p = await ffprobe(join(dir, seg), ['-select_streams', 'v:0', '-show_entries', 'stream=pix_fmt,profile']);
    const v = p.streams[0] as { pix_fmt?: string; profile?: string };
    t.equal(v.pix_fmt, 'yuv420p', `${rung}: 8-bit 4:2:0`);
    // The test preset (ultrafast) needs no High tools, so x264 may label it Baseline; never High 10 or 4:4:4.
    t.match(v.profile, /^(Constrained Baseline|Baseline|Main|High)$/, `${rung}: an 8-bit 4:2:0 profile every player decodes (${v.profile})`);
  }
  const session = ts.server.store.sessions.list({ channel: 'hi444' })[0]!;
  t.match(session.source?.codec ?? JSON.stringify(session), /High 4:4:4/, 'the session records what the source was');
  t.equal(view.transcoder?.restarts, 0, 'no restart loop');
});

t.test('a ladder that fails at every start is reported as a crash loop, with ffmpeg\'s own error line', async (t) => {
  const dir = testdir(t);
  // An ffmpeg that answers -version like the real one and fails every ladder the way a broken build does.
  const fake = join(dir, 'ffmpeg');
  writeFileSync(fake, '#!/bin/sh\nfor a in "$@"; do [ "$a" = "-version" ] && exec ffmpeg -version; done\ncat >/dev/null &\necho "[libx264 @ 0x1] Error initializing output stream 0:0 -- Error while opening encoder" >&2\nsleep 0.2\nexit 1\n');
  chmodSync(fake, 0o755);
  const ts = await startTestServer(dir, { KMK_TRANSCODE_FFMPEG_PATH: fake });
  t.teardown(() => ts.server.stop());
  const c = ts.createChannel('loop', { ladder: ['360p'], record: false });
  const pub = push(ts.rtmp(c.key), { seconds: 40, size: '640x360' });
  t.teardown(() => pub.kill('SIGKILL'));
  const status = await waitFor('a crash loop', async () => {
    const tr = ts.server.status().channels.find((x) => x.channel === 'loop')?.transcoder;
    return tr?.crashLoop ? tr : undefined;
  }, 30000);
  t.ok(status.restarts >= 2, `restarted ${status.restarts} times with backoff`);
  t.match(status.lastError, /could not set up the ladder/, 'the friendly reason');
  t.match(status.lastLine, /Error initializing output stream 0:0/, 'and ffmpeg\'s own line');
  t.ok(ts.logs.some((l) => /ladder is in a crash loop .*ffmpeg=.*Error initializing output stream/.test(l)), 'logged with ffmpeg\'s line');
  const secret = loadJoinSecret('', ts.server.config['paths.data']);
  const tok = signJoinToken({ sub: 'teach', name: 'Prof', role: 'instructor', channel: 'loop', exp: Math.floor(Date.now() / 1000) + 600 }, secret);
  const health = await (await ts.get('/api/channels/loop/health', { Authorization: `Bearer ${tok}` })).json() as { crashLoop: boolean; lastError: string | null };
  t.equal(health.crashLoop, true, 'the studio\'s health says so');
  t.match(health.lastError, /could not set up the ladder/);
  const metrics = await (await ts.get('/metrics')).text();
  t.match(metrics, /kmk_transcoder_crash_loop\{channel="loop"\} 1/);
});
