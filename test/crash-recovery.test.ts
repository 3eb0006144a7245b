// A server SIGKILLed mid-class: at the next start the class's recording is closed and kept as a playable replay
// before anything can delete it, its session says when it really ended and how many bytes came in, the database
// is intact, and no ffmpeg of the dead server keeps running.

import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { BIN, cleanEnv, cliJson } from './helpers/cli.js';
import { freePort, push, waitFor } from './helpers/server.js';
import { testdir } from './helpers/testdir.js';

function ffmpegsUsing(dir: string): number[] {
  const out: number[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
      const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]![0];
      if (cmd.includes('ffmpeg') && cmd.includes(dir) && state !== 'Z') out.push(Number(pid));
    } catch {
      // gone while we looked
    }
  }
  return out;
}

t.test('SIGKILL mid-class: the recording survives as a replay, the session is closed truthfully, nothing lingers', async (t) => {
  const dir = testdir(t);
  const http = await freePort();
  const rtmp = await freePort();
  const env = { KMK_BIND_ADDRESS: '127.0.0.1', KMK_HTTP_PORT: String(http), KMK_RTMP_PORT: String(rtmp), KMK_PUBLIC_HOST: '127.0.0.1', KMK_INGEST_RECONNECT_GRACE_SECONDS: '1' };
  const created = cliJson<{ obs: { server: string; streamKey: string } }>(dir, ['channel', 'create', 'crashy', '--ladder', '360p', '--public', 'on'], env);
  const serve = (): ChildProcess => spawn(process.execPath, [BIN, 'serve'], { cwd: dir, env: cleanEnv(env), stdio: ['ignore', 'ignore', 'pipe'] });
  const healthy = (): Promise<unknown> => waitFor('healthz', async () => (await fetch(`http://127.0.0.1:${http}/healthz`).catch(() => undefined))?.status === 200, 20000);

  const first = serve();
  t.teardown(() => first.kill('SIGKILL'));
  await healthy();
  const pub = push(`${created.obs.server}/${created.obs.streamKey}`, { seconds: 60, size: '640x360' });
  t.teardown(() => pub.kill('SIGKILL'));
  const variant = join(dir, 'media', 'live', 'crashy', '360p', 'index.m3u8');
  await waitFor('four segments on disk', () => {
    try {
      return (readFileSync(variant, 'utf8').match(/#EXTINF/g)?.length ?? 0) >= 4 || undefined;
    } catch {
      return undefined;
    }
  }, 40000);
  await new Promise((r) => setTimeout(r, 5500)); // past one progress save of bytes in
  const killedAt = Date.now();
  first.kill('SIGKILL');
  pub.kill('SIGKILL');
  await waitFor('the dead server\'s ffmpeg to exit', () => ffmpegsUsing(dir).length === 0 || undefined, 10000);
  t.pass('no ffmpeg outlives its server');

  const second = serve();
  let log = '';
  second.stderr!.setEncoding('utf8').on('data', (c: string) => (log += c));
  t.teardown(() => second.kill('SIGKILL'));
  await healthy();
  const [s] = cliJson<{ id: string; endedAt: string; endReason: string; recorded: boolean; bytesIn: number }[]>(dir, ['session', 'list'], env);
  t.match(s, { endReason: 'server stopped unexpectedly', recorded: true });
  t.ok(s!.bytesIn > 100_000, `bytes in were kept (${s!.bytesIn})`);
  t.ok(Date.parse(s!.endedAt) <= killedAt + 1000, 'the session ends when its recording last grew, not at the restart');
  // The log arrives on a pipe this process reads between turns of its event loop (the CLI above ran synchronously).
  await waitFor('the recovery in the log', () => log.includes('recovered the recording of a class interrupted by a crash') || undefined, 5000);
  t.match(log, 'recovered the recording of a class interrupted by a crash');
  const master = await fetch(`http://127.0.0.1:${http}/vod/${s!.id}/master.m3u8`);
  t.equal(master.status, 200, 'the replay\'s master playlist is served');
  const vodVariant = await (await fetch(`http://127.0.0.1:${http}/vod/${s!.id}/360p/index.m3u8`)).text();
  t.match(vodVariant, '#EXT-X-ENDLIST', 'the variant playlist is closed');
  t.ok((vodVariant.match(/#EXTINF/g)?.length ?? 0) >= 4, 'with the segments recorded before the crash');
  const replay = await (await fetch(`http://127.0.0.1:${http}/api/sessions/${s!.id}/replay`)).json() as { url: string };
  t.equal(replay.url, `/vod/${s!.id}/master.m3u8`);

  // The next class on the channel does not touch the recovered recording.
  const next = push(`${created.obs.server}/${created.obs.streamKey}`, { seconds: 4, size: '640x360' });
  t.teardown(() => next.kill('SIGKILL'));
  await waitFor('the next class', async () => (await fetch(`http://127.0.0.1:${http}/hls/crashy/master.m3u8`)).status === 200, 30000);
  t.equal((await fetch(`http://127.0.0.1:${http}/vod/${s!.id}/master.m3u8`)).status, 200, 'the recovered replay is still there');
  second.kill('SIGTERM');
  await new Promise((r) => second.once('close', r));
  const db = new Database(join(dir, 'data', 'kmk.db'), { readonly: true });
  t.equal(db.pragma('integrity_check', { simple: true }), 'ok', 'the database passes PRAGMA integrity_check');
  db.close();
});

t.test('a crash before the master playlist was written still keeps the replay: the master is made from the rungs', async (t) => {
  const dir = testdir(t);
  const http = await freePort();
  const rtmp = await freePort();
  const env = { KMK_BIND_ADDRESS: '127.0.0.1', KMK_HTTP_PORT: String(http), KMK_RTMP_PORT: String(rtmp), KMK_PUBLIC_HOST: '127.0.0.1', KMK_INGEST_RECONNECT_GRACE_SECONDS: '1' };
  const created = cliJson<{ obs: { server: string; streamKey: string } }>(dir, ['channel', 'create', 'early', '--ladder', '480p,240p', '--public', 'on'], env);
  const serve = (): ChildProcess => spawn(process.execPath, [BIN, 'serve'], { cwd: dir, env: cleanEnv(env), stdio: ['ignore', 'ignore', 'pipe'] });
  const healthy = (): Promise<unknown> => waitFor('healthz', async () => (await fetch(`http://127.0.0.1:${http}/healthz`).catch(() => undefined))?.status === 200, 20000);
  const first = serve();
  t.teardown(() => first.kill('SIGKILL'));
  await healthy();
  const pub = push(`${created.obs.server}/${created.obs.streamKey}`, { seconds: 60, size: '854x480' });
  t.teardown(() => pub.kill('SIGKILL'));
  const live = join(dir, 'media', 'live', 'early');
  await waitFor('two segments in each rung', () => ['480p', '240p'].every((r) => {
    try {
      return (readFileSync(join(live, r, 'index.m3u8'), 'utf8').match(/#EXTINF/g)?.length ?? 0) >= 2;
    } catch {
      return false;
    }
  }) || undefined, 40000);
  first.kill('SIGKILL');
  pub.kill('SIGKILL');
  await waitFor('the dead server\'s ffmpeg to exit', () => ffmpegsUsing(dir).length === 0 || undefined, 10000);
  // The moment a crash in the first seconds leaves: rung folders, no master playlist yet.
  rmSync(join(live, 'master.m3u8'), { force: true });

  const second = serve();
  let log = '';
  second.stderr!.setEncoding('utf8').on('data', (c: string) => (log += c));
  t.teardown(() => second.kill('SIGKILL'));
  await healthy();
  const [s] = cliJson<{ id: string; recorded: boolean }[]>(dir, ['session', 'list'], env);
  t.match(s, { recorded: true }, 'the recording is kept');
  await waitFor('the recovery in the log', () => log.includes('recovered the recording') || undefined, 5000);
  const master = await fetch(`http://127.0.0.1:${http}/vod/${s!.id}/master.m3u8`);
  t.equal(master.status, 200, 'the replay has a master playlist');
  const text = await master.text();
  const rungs = Object.fromEntries([...text.matchAll(/#EXT-X-STREAM-INF:([^\n]*)\n([^\n]+)/g)].map((m) => [m[2], m[1]]));
  t.same(Object.keys(rungs).sort(), ['240p/index.m3u8', '480p/index.m3u8', 'audio-only/index.m3u8'], 'both rungs and the audio-only variant');
  t.match(rungs['audio-only/index.m3u8'], /CODECS="mp4a\.40\.2"/, 'the audio-only variant, audio alone');
  t.notMatch(rungs['audio-only/index.m3u8'], /RESOLUTION|AUDIO=/, 'no picture, no alternative audio');
  t.match(rungs['480p/index.m3u8'], /RESOLUTION=854x480/, 'the 480p rung, probed');
  t.match(rungs['480p/index.m3u8'], /CODECS="avc1\.[0-9a-f]{6},mp4a\.40\.2"/);
  t.match(rungs['240p/index.m3u8'], /RESOLUTION=\d+x240/, 'and the 240p rung');
  t.match(text, /#EXT-X-MEDIA:TYPE=AUDIO[^\n]*URI="audio\/index\.m3u8"/, 'and the audio rendition');
  const bw = [...text.matchAll(/BANDWIDTH=(\d+)/g)].map((m) => Number(m[1]));
  t.ok(bw.every((b) => b > 50_000), `bandwidths measured from the segments (${bw.join(', ')})`);
  const variant = await (await fetch(`http://127.0.0.1:${http}/vod/${s!.id}/480p/index.m3u8`)).text();
  t.match(variant, '#EXT-X-ENDLIST');
  second.kill('SIGTERM');
  await new Promise((r) => second.once('close', r));
});
