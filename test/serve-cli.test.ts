import t from 'tap';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, cleanEnv, cli, cliAsync, cliJson, cliJsonAsync } from './helpers/cli.js';
import { freePort, push, waitFor } from './helpers/server.js';
import { testdir } from './helpers/testdir.js';

t.test('kmk-live serve: OBS settings from channel create give a playable stream; SIGTERM closes the class', async (t) => {
  const dir = testdir(t);
  const http = await freePort();
  const rtmp = await freePort();
  const env = { KMK_BIND_ADDRESS: '127.0.0.1', KMK_HTTP_PORT: String(http), KMK_RTMP_PORT: String(rtmp), KMK_PUBLIC_HOST: '127.0.0.1' };
  const created = cliJson<{ obs: { server: string; streamKey: string } }>(dir, ['channel', 'create', 'math-101'], env);
  t.equal(created.obs.server, `rtmp://127.0.0.1:${rtmp}/live`);

  const server = spawn(process.execPath, [BIN, 'serve'], { cwd: dir, env: cleanEnv(env), stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  server.stderr.setEncoding('utf8').on('data', (c: string) => (log += c));
  const exited = new Promise<number | null>((r) => server.once('close', (code) => r(code)));
  t.teardown(() => server.kill('SIGKILL'));
  // The CLI runs without blocking this process: a blocked event loop never sees the server close an idle
  // keep-alive connection, and the next fetch would be written onto a dead socket ("fetch failed", seen in CI).
  t.teardown(() => { if (!t.passing()) t.comment(`server log:\n${log}`); });
  await waitFor('healthz', async () => (await fetch(`http://127.0.0.1:${http}/healthz`).catch(() => undefined))?.status === 200);

  // Exactly what an instructor pastes into OBS: Server + Stream Key.
  const pub = push(`${created.obs.server}/${created.obs.streamKey}`, { seconds: 60, size: '640x360' });
  t.teardown(() => pub.kill('SIGKILL'));
  // The channel is private (the default): a learner's join token gets a playback URL; the bare path is refused.
  const learner = await cliJsonAsync<{ token: string }>(dir, ['token', 'join', 'math-101', '--user', 'u1', '--name', 'Ada'], env);
  const play = await (await fetch(`http://127.0.0.1:${http}/api/channels/math-101/playback`, { headers: { Authorization: `Bearer ${learner.token}` } })).json() as { url: string };
  t.match(play.url, /^\/hls\/math-101\/master\.m3u8\?pt=/, 'the playback URL carries a playback token');
  await waitFor('the master playlist', async () => (await fetch(`http://127.0.0.1:${http}${play.url}`)).status === 200, 30000);
  t.equal((await fetch(`http://127.0.0.1:${http}/hls/math-101/master.m3u8`)).status, 403, 'no playback token: 403');

  const status = await waitFor('kmk-live status to show the class', async () => {
    const s = await cliJsonAsync<{ running: boolean; channels: { channel: string; state: string }[] }>(dir, ['status'], env);
    return s.running && s.channels[0]?.state === 'live' ? s : undefined;
  });
  t.match(status.channels[0], { channel: 'math-101', state: 'live' });
  const human = await cliAsync(dir, ['status'], env);
  t.match(human.stdout, /Transcode budget: [\d.]+ Mpx\/s used of [\d.]+ Mpx\/s/);
  t.match(human.stdout, /math-101\s+live/);
  t.match(human.stdout, /^CHANNEL .* VIEWERS /m, 'status has a viewers column');

  // Every URL the CLI prints follows the configuration in force (non-default ports here), never :1935/:8080.
  const base = `http://127.0.0.1:${http}`;
  const teacher = await cliAsync(dir, ['token', 'join', 'math-101', '--user', 'prof', '--name', 'Prof. Byron', '--role', 'instructor'], env);
  t.match(teacher.stdout, new RegExp(`Watch page: ${base}/watch/math-101\\?token=`));
  t.match(teacher.stdout, new RegExp(`Studio: +${base}/studio/math-101\\?token=`), 'an instructor gets the studio link too');
  const shownChannel = await cliAsync(dir, ['channel', 'show', 'math-101'], env);
  t.match(shownChannel.stdout, `rtmp://127.0.0.1:${rtmp}/live`);
  t.match(shownChannel.stdout, `${base}/watch/math-101`);
  t.match(shownChannel.stdout, `${base}/studio/math-101`);
  for (const out of [teacher.stdout, shownChannel.stdout, human.stdout]) t.notMatch(out, /:1935\b|:8080\b/, 'no hard-coded port');
  const missing = await cliAsync(dir, ['token', 'join', 'math-101'], env);
  t.equal(missing.code, 2);
  t.match(missing.stderr, 'missing required options: --user <id>, --name <name>', 'all missing options at once');
  const doctor = await cliAsync(dir, ['doctor'], env);
  t.match(doctor.stdout, /^ok {4}http port .*in use by the running kmk-live server \(healthy\)/m, 'doctor recognises the running server');
  t.match(doctor.stdout, /^ok {4}rtmp port .*in use by the running kmk-live server/m);
  t.match(doctor.stdout, 'All required checks passed.');
  // A second server on the same data folder (other ports, so nothing else stops it) refuses to start.
  const second = await cliAsync(dir, ['serve'], { ...env, KMK_HTTP_PORT: String(await freePort()), KMK_RTMP_PORT: String(await freePort()) });
  t.equal(second.code, 2, 'a second serve on the same data folder exits with a usage error');
  t.match(second.stderr, new RegExp(`another kmk-live serve \\(pid ${server.pid}\\) already uses the data folder`), 'naming the first one');
  t.equal((await fetch(`${base}/healthz`)).status, 200, 'and the first keeps serving');
  const landing = await fetch(`${base}/`);
  t.equal(landing.status, 200, 'GET / is a page, not a JSON 404');
  t.match(await landing.text(), /KMK LiveStream/);
  t.match((await fetch(`${base}/favicon.ico`)).headers.get('content-type'), 'image/svg+xml');
  const liveShow = await cliJsonAsync<{ bytesIn: number; endedAt: string | null }>(dir, ['session', 'show', (await cliJsonAsync<{ id: string }[]>(dir, ['session', 'list'], env))[0]!.id, '--json'], env);
  t.equal(liveShow.endedAt, null);
  t.ok(liveShow.bytesIn > 0, `bytes in while live (${liveShow.bytesIn})`);

  server.kill('SIGTERM');
  t.equal(await exited, 0, 'exits cleanly on SIGTERM');
  t.match(log, 'stopping: no new publishes');
  t.notMatch(log, created.obs.streamKey, 'the key never reaches the log');
  const sessions = cliJson<{ id: string; endReason: string; recorded: boolean }[]>(dir, ['session', 'list'], env);
  t.match(sessions[0], { endReason: 'server shutdown', recorded: true });
  const variant = readFileSync(join(dir, 'media', 'vod', sessions[0]!.id, '360p', 'index.m3u8'), 'utf8');
  t.match(variant, '#EXT-X-ENDLIST', 'the playlists were closed');
  const shown = cli(dir, ['session', 'show', sessions[0]!.id], env);
  t.match(shown.stdout, `http://127.0.0.1:${http}/vod/${sessions[0]!.id}/master.m3u8`, 'the replay as a full URL');
  t.match(shown.stdout, /^duration: +\d+(\.\d+)? min$/m);
  t.match(shown.stdout, /^peak viewers: +\d+$/m);
  t.equal(cli(dir, ['session', 'show', 'nope'], env).code, 2);
  t.equal(cli(dir, ['session', 'list', '--limit', 'x'], env).code, 2);
  t.match(cliJson<{ running: boolean }>(dir, ['status'], env), { running: false }, 'status knows the server stopped');
});

t.test('serve stops with a clear message when its port is taken', async (t) => {
  const dir = testdir(t);
  const { createServer } = await import('node:net');
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  t.teardown(() => busy.close());
  const r = cli(dir, ['serve'], { KMK_BIND_ADDRESS: '127.0.0.1', KMK_HTTP_PORT: String(await freePort()), KMK_RTMP_PORT: String((busy.address() as { port: number }).port) });
  t.equal(r.code, 1);
  t.match(r.stderr, /RTMP port 127\.0\.0\.1:\d+ is already in use/);
});
