// Cost measured, not guessed: the origin's byte count for a session equals what curl downloaded, the ladder's
// encode CPU is recorded, and the cost report (CLI and REST) is built from them. Bad input gets clear errors.

import t from 'tap';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { signJoinToken } from '../src/auth/join-token.js';
import { loadJoinSecret } from '../src/auth/join-secret.js';
import { push, startTestServer, waitFor } from './helpers/server.js';
import { cliAsync } from './helpers/cli.js';
import { testdir } from './helpers/testdir.js';

const run = promisify(execFile);

/** Bytes curl downloaded for a URL (its own count, not ours). */
async function curlBytes(url: string): Promise<number> {
  const { stdout } = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{size_download} %{http_code}', url]);
  const [bytes, code] = stdout.trim().split(' ');
  if (code !== '200') throw new Error(`curl ${url}: HTTP ${code}`);
  return Number(bytes);
}

t.test('bytes served per session match curl; encode CPU is recorded; the cost report uses both', async (t) => {
  const dir = testdir(t);
  const ts = await startTestServer(dir, { KMK_INGEST_RECONNECT_GRACE_SECONDS: '1' });
  let stopped = false;
  t.teardown(() => (stopped ? undefined : ts.server.stop()));
  const { key } = ts.createChannel('econ', { ladder: ['360p', '240p'], record: false });
  const pub = push(ts.rtmp(key), { seconds: 16, size: '640x360' });
  t.teardown(() => pub.kill('SIGKILL'));
  let downloaded = 0;
  const byRendition: Record<string, number> = {};
  const count = (r: string, n: number): void => {
    downloaded += n;
    byRendition[r] = (byRendition[r] ?? 0) + n;
  };
  /** A fetch whose received body is counted too (the server counts every body it sends). */
  const got = async (path: string, rendition: string): Promise<Response> => {
    const res = await ts.get(path);
    const body = Buffer.from(await res.arrayBuffer());
    if (res.status === 200) count(rendition, body.length);
    return new Response(res.status === 200 ? body : null, { status: res.status });
  };
  await waitFor('the master playlist', async () => (await got('/hls/econ/master.m3u8', 'master')).status === 200, 30000);
  const sessionId = ts.server.live.current('econ')!.sessionId;
  count('master', await curlBytes(`${ts.base}/hls/econ/master.m3u8`));
  for (const rung of ['360p', '240p']) {
    const text = await (await got(`/hls/econ/${rung}/index.m3u8`, rung)).text();
    const segs = text.split('\n').filter((l) => l && !l.startsWith('#')).slice(0, 2);
    t.ok(segs.length >= 1, `${rung} has segments`);
    for (const seg of segs) count(rung, await curlBytes(`${ts.base}/hls/econ/${rung}/${seg}`));
    count(rung, await curlBytes(`${ts.base}/hls/econ/${rung}/index.m3u8`));
  }
  await fetch(`${ts.base}/hls/econ/master.m3u8`, { method: 'HEAD' }); // HEAD sends no body: not counted
  await pub.done;
  await waitFor('the class to end', () => ts.server.store.sessions.find(sessionId)?.endedAt ?? undefined, 30000);
  await ts.server.stop(); // flushes the counters
  stopped = true;

  const { openStore } = await import('../src/store/index.js');
  const store = openStore(join(dir, 'data', 'kmk.db'));
  t.teardown(() => store.close());
  const rows = store.reports.traffic(sessionId);
  const served = Object.fromEntries(rows.map((r) => [r.rendition, r.bytes]));
  t.ok(rows.every((r) => r.kind === 'live'), 'counted as live traffic');
  for (const r of ['master', '360p', '240p']) {
    t.equal(served[r], byRendition[r], `${r}: ${served[r]} bytes counted = ${byRendition[r]} downloaded (curl's own count plus our fetches)`);
  }
  const cpu = store.reports.encodeCpuMs(sessionId);
  t.ok(cpu > 500, `the ladder's encode CPU was recorded (${cpu} ms)`);
  t.ok(downloaded > 10000, `curl downloaded ${downloaded} bytes`);

  // The cost report, from the CLI and from REST, over today.
  const day = new Date().toISOString().slice(0, 10);
  const json = await cliAsync(dir, ['report', 'cost', '--from', day, '--to', day, '--json']);
  t.equal(json.code, 0, json.stderr);
  const r = JSON.parse(json.stdout) as { classes: { sessionId: string; gbServed: number; encodeCpuSeconds: number; ours: { total: number }; allMux: number }[]; totals: { ours: number }; savingVsZoomPct: number | null };
  const c = r.classes.find((x) => x.sessionId === sessionId)!;
  t.ok(c, 'the class is in the period');
  t.equal(c.encodeCpuSeconds, Math.round(cpu / 1000));
  t.ok(c.ours.total > 0 && c.allMux > 0, 'priced self-hosted and on all-Mux');
  const human = await cliAsync(dir, ['report', 'cost', '--from', day, '--to', day]);
  t.match(human.stdout, /saving vs Zoom:\s+-?[\d.]+%/);
  // What decides the case is printed beside the totals: the egress price assumed, the bytes per viewer-minute, and
  // the same classes when the box's own bandwidth carries them at $0.
  t.match(human.stdout, /egress price assumed:\s+\$0\.085\/GB \(cost\.cdnPerGb\); delivered [\d.]+ GB, ([\d.]+|-) MB per viewer-minute/);
  t.match(human.stdout, /self-hosted:\s+\$[\d.]+ at \$0\.085\/GB; \$[\d.]+ at \$0\/GB \(the box's own bandwidth\)/);
  t.match(human.stdout, /saving vs all-Mux:\s+(-?[\d.]+%|-) at \$0\.085\/GB; (-?[\d.]+%|-) at \$0\/GB/);
  const full = JSON.parse(json.stdout) as { egressPerGb: number; classes: { sessionId: string; gbServed: number; viewerMinutes: number; mbPerViewerMinute: number | null; oursAtZeroEgress: number; ours: { total: number; egress: number } }[] };
  const fc = full.classes.find((x) => x.sessionId === sessionId)!;
  t.equal(full.egressPerGb, 0.085, 'the egress price it assumed');
  t.equal(fc.oursAtZeroEgress, Math.round((fc.ours.total - fc.ours.egress) * 100) / 100, 'the class without its egress');
  if (fc.viewerMinutes > 0) t.ok(Math.abs(fc.mbPerViewerMinute! - (fc.gbServed * 1000) / fc.viewerMinutes) < 0.05, `${fc.mbPerViewerMinute} MB per viewer-minute`);
  else t.equal(fc.mbPerViewerMinute, null, 'no viewers: no bytes per viewer-minute');
  const csv = await cliAsync(dir, ['report', 'cost', '--from', day, '--to', day, '--csv']);
  t.match(csv.stdout, /^date,channel,session,minutes,viewer minutes,peak viewers,GB served,encode CPU s,runs on,/);
  t.equal((await cliAsync(dir, ['report', 'cost', '--from', '2026-13-01', '--to', day])).code, 2, 'an invalid date');
  const badPrice = join(dir, 'bad.json');
  writeFileSync(badPrice, JSON.stringify({ cost: { cdnPerGb: 'cheap' } }));
  const bad = await cliAsync(dir, ['--config', badPrice, 'report', 'cost', '--from', day, '--to', day]);
  t.equal(bad.code, 2);
  t.match(bad.stderr, 'cost.cdnPerGb', 'a price that is not a number names its setting');

  // REST: an API token for the box, the instructor for their channel.
  const ts2 = await startTestServer(dir);
  t.teardown(() => ts2.server.stop());
  const api = ts2.server.store.apiTokens.create('ops', ['sessions:read']).token;
  const rest = await fetch(`${ts2.base}/api/reports/cost?from=${day}&to=${day}`, { headers: { Authorization: `Bearer ${api}` } });
  t.equal(rest.status, 200);
  t.equal(((await rest.json()) as { totals: { ours: number } }).totals.ours, r.totals.ours, 'REST and CLI agree');
  const inst = signJoinToken({ sub: 'p', name: 'P', role: 'instructor', channel: 'econ', exp: Math.floor(Date.now() / 1000) + 600 }, loadJoinSecret('', join(dir, 'data')));
  t.equal((await fetch(`${ts2.base}/api/reports/cost?channel=econ&from=${day}&to=${day}`, { headers: { Authorization: `Bearer ${inst}` } })).status, 200, 'an instructor sees their channel');
  t.equal((await fetch(`${ts2.base}/api/reports/cost?from=${day}&to=${day}`, { headers: { Authorization: `Bearer ${inst}` } })).status, 401, 'but not the whole box');
  t.equal((await fetch(`${ts2.base}/api/reports/cost?from=nope&to=${day}`, { headers: { Authorization: `Bearer ${api}` } })).status, 400);
  const csvRest = await fetch(`${ts2.base}/api/reports/cost?from=${day}&to=${day}&format=csv`, { headers: { Authorization: `Bearer ${api}` } });
  t.match(csvRest.headers.get('content-type'), 'text/csv');
});
