// Two `kmk-live serve` boxes on one PostgreSQL (started by the test on a loopback port), each with its own ports,
// data and media folders, and the CLI run from a third folder: what one writes, the others see; a class runs on
// the box it was pushed to; PostgreSQL restarted mid-class leaves the classes playing, /healthz degraded meanwhile,
// and the writes resume.

import t from 'tap';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { cliAsync, cliJsonAsync } from './helpers/cli.js';
import { boxRunner } from './helpers/boxes.js';
import { freePort, push, waitFor } from './helpers/server.js';
import { testdir } from './helpers/testdir.js';
import { startPostgres } from './helpers/postgres.js';
import { startRedis } from './helpers/redis.js';
import { Client } from './helpers/ws.js';
import { FakePlatform, ROLE } from './helpers/lti-platform.js';
import pgsql from 'pg';
import { LATEST_VERSION } from '../src/store/sqlite/migrations.js';

const JOIN_SECRET = 'a-join-secret-the-boxes-share-0123456789';

t.test('two boxes on one PostgreSQL: shared channels and keys, classes where pushed, a store restart survived, one key pushed to both at once', async (t) => {
  const dir = testdir(t);
  const pg = await startPostgres();
  t.teardown(() => pg.destroy());
  const url = await pg.database();
  const shared = { KMK_STORE_URL: url, KMK_HUB_JOIN_SECRET: JOIN_SECRET, KMK_BIND_ADDRESS: '127.0.0.1', KMK_PUBLIC_HOST: '127.0.0.1', KMK_INGEST_RECONNECT_GRACE_SECONDS: '2' };
  const box = async (name: string) => {
    const http = await freePort();
    const rtmp = await freePort();
    return { name, http, rtmp, dir: join(dir, name), env: { ...shared, KMK_NODE_NAME: name, KMK_HTTP_PORT: String(http), KMK_RTMP_PORT: String(rtmp), KMK_PUBLIC_URL: `http://127.0.0.1:${http}` } };
  };
  const a = await box('box-a');
  const b = await box('box-b');
  const ops = join(dir, 'ops'); // the CLI's own folder: no data of its own, only the store's URL
  mkdirSync(ops);

  const made = await cliJsonAsync<{ obs: { streamKey: string } }>(ops, ['channel', 'create', 'math-101', '--public', 'on', '--ladder', '480p,360p'], a.env);
  const { serve } = boxRunner(t);
  serve(a);
  serve(b);
  const health = async (x: typeof a) => (await fetch(`http://127.0.0.1:${x.http}/healthz`).then((r) => r.json() as Promise<{ status: string; store?: string }>).catch(() => undefined));
  await waitFor('both boxes up', async () => (await health(a))?.status === 'ok' && (await health(b))?.status === 'ok', 30000);

  // A channel made after both started reaches both read models (PostgreSQL's notices).
  const later = await cliJsonAsync<{ obs: { streamKey: string } }>(ops, ['channel', 'create', 'bio-200', '--public', 'on', '--ladder', '360p'], b.env);

  const pushB = push(`rtmp://127.0.0.1:${b.rtmp}/live/${made.obs.streamKey}`, { seconds: 90, size: '640x360' });
  const pushA = push(`rtmp://127.0.0.1:${a.rtmp}/live/${later.obs.streamKey}`, { seconds: 90, size: '640x360' });
  t.teardown(() => { pushA.kill('SIGKILL'); pushB.kill('SIGKILL'); });
  const media = async (x: typeof a, slug: string) => (await fetch(`http://127.0.0.1:${x.http}/hls/${slug}/360p/index.m3u8`)).text();
  const sequence = (playlist: string) => Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(playlist)?.[1] ?? -1) + (playlist.match(/#EXTINF/g)?.length ?? 0);
  await waitFor('math-101 playing on box B', async () => (await fetch(`http://127.0.0.1:${b.http}/hls/math-101/master.m3u8`)).status === 200, 40000);
  await waitFor('bio-200 (made after box A started) playing on box A', async () => (await fetch(`http://127.0.0.1:${a.http}/hls/bio-200/master.m3u8`)).status === 200, 40000);
  t.pass('each class runs on the box it was pushed to, with keys made by the CLI in the shared store');

  const sessions = await cliJsonAsync<{ id: string; channel: string; endedAt: string | null }[]>(ops, ['session', 'list'], a.env);
  t.same(sessions.map((s) => [s.channel, s.endedAt]).sort(), [['bio-200', null], ['math-101', null]], 'both classes open in the shared store');

  // PostgreSQL goes away mid-class.
  await pg.stop();
  const before = sequence(await media(b, 'math-101'));
  const degraded = await waitFor('box B degraded', async () => { const h = await health(b); return h?.status === 'degraded' ? h : undefined; }, 10000);
  t.match(degraded.store, /^unreachable: /, '/healthz says why');
  await waitFor('the class keeps playing without its store', async () => sequence(await media(b, 'math-101')) >= before + 2, 30000);
  await pg.restart();
  await waitFor('box B healthy again', async () => (await health(b))?.status === 'ok', 20000);
  t.pass('PostgreSQL restarted: the box is healthy again');

  // The publishers stop: each box ends its class and the end reaches the store.
  pushA.kill('SIGKILL');
  pushB.kill('SIGKILL');
  const ended = await waitFor('both classes ended in the store', async () => {
    const r = await cliJsonAsync<{ channel: string; endedAt: string | null; endReason: string | null }[]>(ops, ['session', 'list'], a.env);
    return r.every((s) => s.endedAt !== null) ? r : undefined;
  }, 40000);
  t.equal(ended.length, 2);

  // The same key pushed to both boxes at the same moment: one class, one session, on one box.
  const both = await cliJsonAsync<{ obs: { streamKey: string } }>(ops, ['channel', 'create', 'chem-300', '--public', 'on', '--ladder', '360p'], a.env);
  const race = [a, b].map((x) => push(`rtmp://127.0.0.1:${x.rtmp}/live/${both.obs.streamKey}`, { seconds: 40, size: '640x360' }));
  t.teardown(() => race.forEach((p) => p.kill('SIGKILL')));
  const where = async () => Promise.all([a, b].map(async (x) => (await fetch(`http://127.0.0.1:${x.http}/hls/chem-300/master.m3u8`, { redirect: 'manual' })).status));
  const statuses = await waitFor('chem-300 playing on one box', async () => { const w = await where(); return w.includes(200) ? w : undefined; }, 40000);
  await new Promise((r) => setTimeout(r, 3000));
  t.same((await where()).sort(), [200, 302], `one box plays it, the other sends learners there (${statuses.join(', ')})`);
  const open = (await cliJsonAsync<{ channel: string; endedAt: string | null }[]>(ops, ['session', 'list'], a.env)).filter((s) => s.channel === 'chem-300');
  t.equal(open.length, 1, 'one session');
  t.equal(open[0]!.endedAt, null, 'and it is live');
  race.forEach((p) => p.kill('SIGKILL'));

  const doctor = await cliAsync(ops, ['doctor', '--json'], { ...a.env, KMK_HTTP_PORT: String(await freePort()), KMK_RTMP_PORT: String(await freePort()) });
  t.match(doctor.stdout, new RegExp(`PostgreSQL postgres://kmk@127\\.0\\.0\\.1:\\d+/\\w+ at schema version ${LATEST_VERSION}`), 'doctor reads the shared store');
});

t.test('a class on box B: learners on A are sent to B, the key refused on A, a full A names B, B killed and closed by A, its recording replayed through A once B is back', async (t) => {
  const dir = testdir(t);
  const pg = await startPostgres();
  t.teardown(() => pg.destroy());
  const url = await pg.database();
  const shared = { KMK_STORE_URL: url, KMK_HUB_JOIN_SECRET: JOIN_SECRET, KMK_BIND_ADDRESS: '127.0.0.1', KMK_PUBLIC_HOST: '127.0.0.1', KMK_INGEST_RECONNECT_GRACE_SECONDS: '2' };
  const box = async (name: string) => {
    const http = await freePort();
    const rtmp = await freePort();
    return { name, http, rtmp, base: `http://127.0.0.1:${http}`, dir: join(dir, name), env: { ...shared, KMK_NODE_NAME: name, KMK_HTTP_PORT: String(http), KMK_RTMP_PORT: String(rtmp), KMK_PUBLIC_URL: `http://127.0.0.1:${http}` } };
  };
  const a = await box('box-a');
  const b = await box('box-b');
  Object.assign(a.env, { KMK_TRANSCODE_BUDGET_PIXELS_PER_SECOND: '1000' }); // box A is full for any class it must encode
  const ops = join(dir, 'ops');
  mkdirSync(ops);
  const { serve, logs } = boxRunner(t, 8000);
  const up = async (x: typeof a) => waitFor(`${x.name} up`, async () => (await fetch(`${x.base}/healthz`).catch(() => undefined))?.status === 200, 30000);
  serve(a);
  let procB = serve(b);
  await Promise.all([up(a), up(b)]);

  const made = await cliJsonAsync<{ obs: { streamKey: string } }>(ops, ['channel', 'create', 'math-101', '--public', 'on', '--ladder', '360p'], a.env);
  const pushB = push(`rtmp://127.0.0.1:${b.rtmp}/live/${made.obs.streamKey}`, { seconds: 120, size: '640x360' });
  t.teardown(() => pushB.kill('SIGKILL'));
  await waitFor('math-101 playing on box B', async () => (await fetch(`${b.base}/hls/math-101/master.m3u8`)).status === 200, 40000);

  // Learners who reach box A are sent to box B.
  await waitFor('box A knows B runs the class', async () => {
    const p = await (await fetch(`${a.base}/api/channels/math-101/playback`)).json() as { url: string };
    return p.url.startsWith(`${b.base}/hls/math-101/`);
  }, 10000);
  const hop = await fetch(`${a.base}/hls/math-101/360p/index.m3u8`, { redirect: 'manual' });
  t.equal(hop.status, 302);
  t.equal(hop.headers.get('location'), `${b.base}/hls/math-101/360p/index.m3u8`);
  t.match(await (await fetch(`${a.base}/hls/math-101/360p/index.m3u8`)).text(), /#EXTINF/, 'a player following the redirect plays');

  // The same key pushed to box A while the class is live on B: refused there, one session.
  const pushA = push(`rtmp://127.0.0.1:${a.rtmp}/live/${made.obs.streamKey}`, { seconds: 30, size: '640x360' });
  t.teardown(() => pushA.kill('SIGKILL'));
  t.not(await pushA.done, 0, 'the second publisher is refused');
  t.match(logs.get('box-a'), /already live on box box-b/, 'box A says where the class runs');
  const sessions = await cliJsonAsync<{ id: string; channel: string; endedAt: string | null }[]>(ops, ['session', 'list'], a.env);
  t.equal(sessions.length, 1, 'one session');
  const sessionId = sessions[0]!.id;

  // Where to push, the boxes and their classes, a node label on /metrics.
  const shown = await cliJsonAsync<{ obsServer: string; box: { name: string; why: string } }>(ops, ['channel', 'show', 'math-101'], a.env);
  t.same([shown.box.name, shown.obsServer], ['box-b', `rtmp://127.0.0.1:${b.rtmp}/live`], 'channel show names the box running the class');
  const pinned = await cliAsync(ops, ['channel', 'show', 'math-101', '--node', 'box-z'], a.env);
  t.match(pinned.stderr, /no box named "box-z"/);
  const status = await cliJsonAsync<{ boxes: { name: string; alive: boolean; classes: { channel: string }[] }[] }>(ops, ['status'], a.env);
  t.same(status.boxes.map((x) => [x.name, x.alive, x.classes.map((c) => c.channel)]), [['box-a', true, []], ['box-b', true, ['math-101']]]);
  const human = await cliAsync(ops, ['status'], a.env);
  t.match(human.stdout, /Boxes sharing the store \(2 of 2 answering\)/);
  t.match(await (await fetch(`${a.base}/metrics`)).text(), /kmk_live_channels\{node="box-a"\} 0/);
  t.match(await (await fetch(`${b.base}/metrics`)).text(), /kmk_live_channels\{node="box-b"\} 1/);

  // A class box A has no room for (720p in, a 360p rung to encode, overflow refuse): refused, naming box B.
  const art = await cliJsonAsync<{ obs: { streamKey: string } }>(ops, ['channel', 'create', 'art-1', '--public', 'on', '--ladder', '360p', '--overflow', 'refuse'], a.env);
  const pushFull = push(`rtmp://127.0.0.1:${a.rtmp}/live/${art.obs.streamKey}`, { seconds: 30, size: '1280x720' });
  t.teardown(() => pushFull.kill('SIGKILL'));
  const refused = await waitFor('box A refuses art-1', async () => (await cliJsonAsync<{ channel: string; endReason: string | null }[]>(ops, ['session', 'list'], a.env))
    .find((x) => x.channel === 'art-1' && x.endReason), 30000);
  t.match(refused.endReason, new RegExp(`transcode capacity.*; box box-b has room: push to rtmp://127\\.0\\.0\\.1:${b.rtmp}/live$`), 'a full box names a box with room');
  pushFull.kill('SIGKILL');

  // Box B dies mid-class (SIGKILL): box A closes its class once B's lease lapses.
  await waitFor('a few segments recorded', async () => ((await (await fetch(`${b.base}/hls/math-101/360p/index.m3u8`)).text()).match(/#EXTINF/g)?.length ?? 0) >= 3, 30000);
  procB.kill('SIGKILL');
  pushB.kill('SIGKILL');
  const closed = await waitFor('box A closes the dead box\'s class', async () => {
    const r = (await cliJsonAsync<{ id: string; endedAt: string | null; endReason: string | null; recorded: boolean }[]>(ops, ['session', 'list'], a.env)).find((x) => x.id === sessionId);
    return r?.endedAt ? r : undefined;
  }, 40000);
  t.equal(closed.endReason, 'box box-b stopped answering');
  t.match(logs.get('box-a'), /closed a class of a box that stopped answering/);
  const dead = await cliJsonAsync<{ boxes: { name: string; alive: boolean }[] }>(ops, ['status'], a.env);
  t.same(dead.boxes.map((x) => [x.name, x.alive]), [['box-a', true], ['box-b', false]], 'status shows B not answering');

  // Box B comes back: it keeps the recording the crash left, and its replay plays through box A.
  procB = serve(b);
  await up(b);
  const replay = await waitFor('the replay, from box A', async () => {
    const r = await fetch(`${a.base}/api/sessions/${sessionId}/replay`);
    return r.status === 200 ? await r.json() as { url: string } : undefined;
  }, 20000);
  t.equal(replay.url, `${b.base}/vod/${sessionId}/master.m3u8`, 'the replay is on box B');
  const vodHop = await fetch(`${a.base}/vod/${sessionId}/master.m3u8`, { redirect: 'manual' });
  t.equal(vodHop.status, 302);
  t.match(await (await fetch(`${a.base}/vod/${sessionId}/master.m3u8`)).text(), /#EXT-X-STREAM-INF/, 'the replay plays');
  const after = await cliJsonAsync<{ id: string; endReason: string; recorded: boolean }[]>(ops, ['session', 'list'], a.env);
  t.match(after.find((x) => x.id === sessionId), { recorded: true, endReason: 'box box-b stopped answering; recording kept when it came back' });
});

t.test('where to push (pure): the running box, a pinned one, else the one with most room; unknown names refused', async (t) => {
  const { chooseBox } = await import('../src/cluster/choose.js');
  const node = (name: string, used: number, leaseUntil = 100) => ({ name, url: `http://${name}`, rtmp: `rtmp://${name}/live`, startedAt: 0, seenAt: 0, leaseUntil, load: JSON.stringify({ used, budget: 100 }) });
  const nodes = [node('a', 90), node('b', 20), node('c', 0, 10)];
  t.match(chooseBox(nodes, [], 1, 50), { name: 'b' }, 'most room among the answering (c has lapsed)');
  t.match(chooseBox(nodes, [{ channelId: 1, node: 'a', sessionId: 's', until: 60 }], 1, 50), { name: 'a', why: 'the class is live there now' });
  t.match(chooseBox(nodes, [{ channelId: 1, node: 'a', sessionId: 's', until: 60 }], 1, 50, 'b'), { name: 'a', why: 'the class is live there now (not b)' });
  t.match(chooseBox(nodes, [{ channelId: 1, node: 'a', sessionId: 's', until: 40 }], 1, 50), { name: 'b' }, 'a lapsed claim is no class');
  t.match(chooseBox(nodes, [], 1, 50, 'c'), { name: 'c', why: 'pinned with --node (it is not answering now)' });
  t.match(chooseBox(nodes, [], 1, 50, 'z'), { error: /no box named "z"/ });
  t.match(chooseBox([], [], 1, 50), { error: /no box has joined/ });
});

// A course launched on A, its class pushed to B, learners launched through B and C chat together and play from B,
// the report the same from every box, the attendance passed back once though the outbox's holder is killed.
t.test('three boxes, one PostgreSQL, one Redis, one LMS: a class from launch to passback', async (t) => {
  const dir = testdir(t);
  const pg = await startPostgres();
  t.teardown(() => pg.destroy());
  const redis = await startRedis(join(dir, 'redis'));
  t.teardown(() => redis.stop());
  const url = await pg.database();
  const shared = { KMK_STORE_URL: url, KMK_HUB_JOIN_SECRET: JOIN_SECRET, KMK_HUB_REDIS_URL: redis.url, KMK_BIND_ADDRESS: '127.0.0.1', KMK_PUBLIC_HOST: '127.0.0.1', KMK_INGEST_RECONNECT_GRACE_SECONDS: '2', KMK_LTI_RETRY_BASE_SECONDS: '1' };
  const box = async (name: string, writer: boolean) => {
    const http = await freePort();
    const rtmp = await freePort();
    return { name, http, rtmp, base: `http://127.0.0.1:${http}`, dir: join(dir, name),
      env: { ...shared, KMK_NODE_NAME: name, KMK_HTTP_PORT: String(http), KMK_RTMP_PORT: String(rtmp), KMK_PUBLIC_URL: `http://127.0.0.1:${http}`, ...(writer ? {} : { KMK_HUB_WRITER: 'false' }) } };
  };
  const [a, b, c] = [await box('box-a', true), await box('box-b', false), await box('box-c', false)];
  const ops = join(dir, 'ops');
  mkdirSync(ops);
  const { serve } = boxRunner(t);
  const procs = new Map([a, b, c].map((x) => [x.name, serve(x)]));
  await Promise.all([a, b, c].map((x) => waitFor(`${x.name} up`, async () => (await fetch(`${x.base}/healthz`).catch(() => undefined))?.status === 200, 30000)));

  // The LMS is registered once, from the operators' folder; every box answers its launches.
  const lms = await FakePlatform.start();
  t.teardown(() => lms.stop());
  const prof = { sub: 'u-prof', name: 'Prof. Noether', roles: [ROLE.instructor] };
  const ana = { sub: 'u-ana', name: 'Ana Ng', roles: [ROLE.learner] };
  const ben = { sub: 'u-ben', name: 'Ben Ode', roles: [ROLE.learner] };
  const cy = { sub: 'u-cy', name: 'Cy Absent', roles: [ROLE.learner] };
  lms.members.push(prof, ana, ben, cy);
  const reg = await cliAsync(ops, ['lti', 'platform', 'add', '--issuer', lms.issuer, '--client-id', lms.clientId, '--auth-url', lms.urls.authUrl,
    '--token-url', lms.urls.tokenUrl, '--jwks-url', lms.urls.jwksUrl, '--deployment-id', lms.deploymentId], a.env);
  t.equal(reg.code, 0, reg.stderr);
  const launch = async (x: typeof a, user: typeof ana): Promise<URL> => {
    lms.toolBase = x.base;
    return new URL((await lms.launch({ user })).launch.headers.get('location')!, x.base);
  };

  // The instructor opens the tool on box A and schedules the class; the studio's key is pushed to box B.
  const studio = await launch(a, prof);
  const slug = studio.pathname.split('/')[2]!;
  const teach = { Authorization: `Bearer ${studio.searchParams.get('token')}` };
  t.equal((await cliAsync(ops, ['channel', 'update', slug, '--ladder', '360p'], a.env)).code, 0);
  const scheduled = await fetch(`${a.base}/api/channels/${slug}/classes`, {
    method: 'POST', headers: teach, body: JSON.stringify({ title: 'Cells', startsAt: new Date(Date.now() + 60_000).toISOString(), minutes: 30 }),
  });
  t.equal(scheduled.status, 201);
  const { key } = await (await fetch(`${a.base}/api/channels/${slug}/stream-key`, { method: 'POST', headers: teach, body: '' })).json() as { key: string };
  const pushB = push(`rtmp://127.0.0.1:${b.rtmp}/live/${key}`, { seconds: 120, size: '640x360' });
  t.teardown(() => pushB.kill('SIGKILL'));

  // Ana comes in through box C, Ben through box B.
  const anaUrl = await launch(c, ana);
  const benUrl = await launch(b, ben);
  t.equal(anaUrl.pathname, `/watch/${slug}`, 'a launch on box C opens the course\'s class');
  const [t1, t2] = [anaUrl.searchParams.get('token')!, benUrl.searchParams.get('token')!];
  await waitFor(`${slug} live on box B`, async () => {
    const p = await (await fetch(`${b.base}/api/channels/${slug}/playback`, { headers: { Authorization: `Bearer ${t2}` } })).json() as { url: string };
    return (await fetch(`${b.base}${p.url}`)).status === 200;
  }, 40000);

  // Ana on box C, Ben on box B: one room through Redis.
  const onC = await Client.connect(`${c.base.replace('http', 'ws')}/ws?token=${t1}`);
  const onB = await Client.connect(`${b.base.replace('http', 'ws')}/ws?token=${t2}`);
  t.teardown(() => { onB.close(); onC.close(); });
  await onB.waitFor('Ben welcomed', () => onB.messages.some((m) => m.t === 'welcome'), 10000);
  await onC.waitFor('Ana welcomed', () => onC.messages.some((m) => m.t === 'welcome'), 10000);
  onC.send({ t: 'chat', text: 'hello from box C' });
  await onB.waitFor('Ben hears Ana', () => onB.events.some((e) => e.t === 'chat' && (e.msg as { text: string }).text === 'hello from box C'), 10000);
  onB.send({ t: 'chat', text: 'hello from box B' });
  await onC.waitFor('Ana hears Ben', () => onC.events.some((e) => e.t === 'chat' && (e.msg as { text: string }).text === 'hello from box B'), 10000);
  t.pass('learners on two boxes chat in one room');

  // Ana plays through box C: sent to box B, her playback token good there.
  const play = await (await fetch(`${c.base}/api/channels/${slug}/playback`, { headers: { Authorization: `Bearer ${t1}` } })).json() as { url: string };
  t.match(play.url, new RegExp(`^${b.base}/hls/${slug}/master\\.m3u8\\?pt=`));
  t.match(await (await fetch(play.url)).text(), /#EXT-X-STREAM-INF/, 'the private class plays from box B with the token made on C');
  t.equal((await fetch(`${b.base}/hls/${slug}/master.m3u8`)).status, 403, 'and not without one');

  // The LMS is down when the class ends; its report (written by the writer box A) reads the same on every box.
  await new Promise((r) => setTimeout(r, 2000));
  lms.down = true;
  onB.close();
  onC.close();
  pushB.kill('SIGKILL');
  const api = await cliJsonAsync<{ token: string }>(ops, ['token', 'create', 'reports', '--scopes', 'sessions:read'], a.env);
  const [session] = await waitFor('the class ended', async () => {
    const r = await cliJsonAsync<{ id: string; endedAt: string | null }[]>(ops, ['session', 'list'], a.env);
    return r[0]?.endedAt ? r : undefined;
  }, 30000);
  type Report = { summary: { attended: number; chat: number }; learners: { name: string }[] };
  const report = async (x: typeof a) => (await fetch(`${x.base}/api/sessions/${session!.id}/report`, { headers: { Authorization: `Bearer ${api.token}` } })).json() as Promise<Report>;
  const fromA = await waitFor('both chats and both learners in the report', async () => {
    const r = await report(a);
    return r.summary?.chat === 2 && r.summary.attended === 2 ? r : undefined;
  }, 15000);
  t.same(await report(b), fromA, 'box B reads the same report');
  t.same(await report(c), fromA, 'box C reads the same report');
  t.same(fromA.learners.map((l) => l.name).sort(), ['Ana Ng', 'Ben Ode'], 'the learners of both boxes attended');

  // The outbox: the passback waits for the LMS; the box holding the outbox's lease is killed; another takes over
  // when the lease lapses and every learner gets one score, none twice.
  type Item = { kind: string; status: string; attempts: number };
  await waitFor('a failed passback attempt', async () => (await cliJsonAsync<Item[]>(ops, ['lti', 'outbox'], a.env)).some((i) => i.kind === 'passback' && i.attempts >= 1), 30000);
  const db = new pgsql.Client({ connectionString: url });
  await db.connect();
  t.teardown(() => db.end());
  const holder = async () => ((await db.query<{ holder: string }>("SELECT holder FROM leases WHERE name = 'lti-outbox'")).rows[0]?.holder);
  const first = await holder();
  t.ok(first && procs.has(first), `a box holds the outbox (${first})`);
  procs.get(first!)!.kill('SIGKILL');
  // The LMS reaches the tool by one name (the school's load balancer): now a box that answers.
  lms.toolBase = (first === a.name ? c : a).base;
  lms.down = false;
  await waitFor('three scores', () => lms.scores.length >= 3, 90000);
  const second = await holder();
  t.ok(second && second !== first, `${second} took the outbox over from ${first}`);
  await new Promise((r) => setTimeout(r, 6000)); // two more polls of every live box
  t.same(lms.scores.map((s) => s.body.userId).sort(), ['u-ana', 'u-ben', 'u-cy'], 'one score per rostered learner, none twice');
  t.equal(lms.lineItems.length, 1, 'one line item for the class');
  t.same(await cliJsonAsync<Item[]>(ops, ['lti', 'outbox'], second === a.name ? b.env : a.env), [], 'nothing left in the outbox');
  t.ok(lms.tokenRequests.every((r) => r.ok), 'the boxes share the tool\'s key: every client assertion verified');
});
