// The class report end to end: a real push, hub clients that join, leave, chat, ask, vote and react, a real
// Chromium player sending beacons; the report (API, CSV, CLI) matches what happened, and the studio's Reports tab
// shows it with charts.

import t from 'tap';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { signJoinToken } from '../src/auth/join-token.js';
import type { Role } from '../src/domain/roles.js';
import { loadJoinSecret } from '../src/auth/join-secret.js';
import { launch } from './helpers/browser.js';
import { push, startTestServer, waitFor } from './helpers/server.js';
import { Client } from './helpers/ws.js';
import { cliAsync } from './helpers/cli.js';
import { testdir } from './helpers/testdir.js';

t.test('the report of a real class matches what happened', async (t) => {
  const dir = testdir(t);
  // stage.picture off: this class's top rung may be passed through (the pass-through delivery the report tells of).
const ts = await startTestServer(dir, { KMK_INGEST_RECONNECT_GRACE_SECONDS: '1', KMK_STAGE_PICTURE: 'false' });
  t.teardown(() => ts.server.stop());
  const browser = await launch();
  t.teardown(() => browser.close());
  const shots = join(dir, 'screenshots');
  mkdirSync(shots, { recursive: true });
  const secret = loadJoinSecret('', ts.server.config['paths.data']);
  const token = (sub: string, name: string, role: Role = 'learner'): string =>
    signJoinToken({ sub, name, role, channel: 'biology', exp: Math.floor(Date.now() / 1000) + 3600 }, secret);
  const { key } = ts.createChannel('biology', { ladder: ['360p'], record: true, public: false });
  const ws = (tok: string): Promise<Client> => Client.connect(`ws://127.0.0.1:${ts.server.httpPort}/ws?token=${tok}`);

  // Ada and Bob wait in the room; the instructor too.
  const prof = await ws(token('prof', 'Prof', 'instructor'));
  const ada = await ws(token('ada', 'Ada'));
  const bob = await ws(token('bob', '=2+2'));
  t.teardown(() => { prof.close(); ada.close(); bob.close(); });

  const pub = push(ts.rtmp(key), { seconds: 28, size: '640x360' });
  t.teardown(() => pub.kill('SIGKILL'));
  await ada.waitFor('class start', () => ada.events.find((e) => e.t === 'class' && e.state === 'live'), 30000);
  const sessionId = ts.server.live.current('biology')!.sessionId;

  // Cy watches in a real browser: the player sends beacons.
  const page = await browser.newPage({ width: 1280, height: 800 });
  t.teardown(() => page.close());
  await page.goto(`${ts.base}/watch/biology?token=${token('cy', 'Cy')}`);
  await page.waitForFunction(() => (document.querySelector('video')?.currentTime ?? 0) > 1, undefined, { timeout: 30000 });

  ada.send({ t: 'chat', text: 'Hello' });
  ada.send({ t: 'chat', text: 'Is this on the exam?' });
  bob.send({ t: 'ask', text: 'What is a centromere?' });
  const q = await ada.waitFor('the question', () => ada.events.find((e) => e.t === 'question') as { q: { id: string } } | undefined);
  ada.send({ t: 'q_vote', id: q.q.id });
  prof.send({ t: 'poll_create', question: 'Ready?', options: ['Yes', 'No'] });
  const poll = await ada.waitFor('the poll', () => ada.events.find((e) => e.t === 'poll') as { poll: { id: string } } | undefined);
  ada.send({ t: 'poll_vote', id: poll.poll.id, option: 0 });
  bob.send({ t: 'poll_vote', id: poll.poll.id, option: 1 });
  for (let i = 0; i < 3; i++) ada.send({ t: 'react', emoji: '👍' });
  bob.send({ t: 'hand_raise' });
  await new Promise((r) => setTimeout(r, 1500));
  const bobLeft = Date.now();
  bob.close();

  // While live: a partial report.
  const auth = { Authorization: `Bearer ${token('prof', 'Prof', 'instructor')}` };
  const partial = await (await fetch(`${ts.base}/api/sessions/${sessionId}/report`, { headers: auth })).json() as { session: { partial: boolean } };
  t.equal(partial.session.partial, true, 'a live class gets a partial report');

  await pub.done;
  await waitFor('the class to end', () => ts.server.store.sessions.find(sessionId)?.endedAt ?? undefined, 30000);
  await page.close();
  const s = ts.server.store.sessions.find(sessionId)!;
  const start = Date.parse(s.startedAt);
  const end = Date.parse(s.endedAt!);

  const res = await fetch(`${ts.base}/api/sessions/${sessionId}/report`, { headers: auth });
  t.equal(res.status, 200);
  const r = await res.json() as { session: { partial: boolean; minutes: number }; summary: Record<string, number | null>; learners: Record<string, unknown>[]; polls: { options: { votes: number }[] }[] };
  t.equal(r.session.partial, false);
  const by = Object.fromEntries(r.learners.map((l) => [l.userId as string, l]));
  t.same(Object.keys(by).sort(), ['ada', 'bob', 'cy'], 'the learners, not the instructor');
  const classMin = (end - start) / 60000;
  t.ok(Math.abs((by.ada!.minutes as number) - classMin) <= 0.1, `Ada stayed the whole class (${by.ada!.minutes} of ${classMin.toFixed(2)} min)`);
  const bobMin = (bobLeft - start) / 60000;
  t.ok(Math.abs((by.bob!.minutes as number) - bobMin) <= 0.05, `Bob's minutes within 3 s (${by.bob!.minutes} vs ${bobMin.toFixed(2)})`);
  t.match(by.ada, { chat: 2, questions: 0, upvotes: 1, pollAnswers: 1, reactions: 3, hands: 0 });
  t.match(by.bob, { chat: 0, questions: 1, upvotes: 0, pollAnswers: 1, reactions: 0, hands: 1 });
  t.match(r.summary, { chat: 2, questions: 1, upvotes: 1, pollAnswers: 2, reactions: 3, hands: 1, attended: 3 });
  t.same(r.polls[0]!.options.map((o) => o.votes), [1, 1]);
  t.ok(typeof by.cy!.startupMs === 'number' && (by.cy!.startupMs as number) > 0, `Cy's startup time from the player (${by.cy!.startupMs} ms)`);
  t.ok((by.cy!.watchMinutes as number) > 0, `Cy's watch time (${by.cy!.watchMinutes} min)`);
  t.ok((r.summary.peakViewers as number) >= 3, 'peak viewers');

  // CSV: the columns a teacher expects, formulas defused.
  const csv = await fetch(`${ts.base}/api/sessions/${sessionId}/report?format=csv&table=learners`, { headers: auth });
  t.match(csv.headers.get('content-type'), 'text/csv');
  t.match(csv.headers.get('content-disposition'), `${sessionId}-learners.csv`);
  const text = (await csv.text()).replace(/^\ufeff/, '');
  const lines = text.trim().split('\r\n');
  t.match(lines[0], /^name,user id,on roster,first join,last leave,minutes,share %,late,left early,never came,chat,questions/);
  t.equal(lines.length, 4, 'a header and three learners');
  t.ok(lines.some((l) => l.startsWith('"\'=2+2",bob,')), 'a name that looks like a formula is quoted and defused');
  t.equal((await fetch(`${ts.base}/api/sessions/${sessionId}/report?format=csv&table=nope`, { headers: auth })).status, 400);
  t.equal((await fetch(`${ts.base}/api/sessions/${sessionId}/report?format=xml`, { headers: auth })).status, 400);
  t.equal((await fetch(`${ts.base}/api/sessions/s_ffffffffffffffff/report`, { headers: auth })).status, 401, 'an unknown session: no instructor of it');
  const admin = ts.server.store.apiTokens.create('ops', ['sessions:read']).token;
  t.equal((await fetch(`${ts.base}/api/sessions/s_ffffffffffffffff/report`, { headers: { Authorization: `Bearer ${admin}` } })).status, 404);
  t.equal((await fetch(`${ts.base}/api/sessions/${sessionId}/report`, { headers: { Authorization: `Bearer ${token('ada', 'Ada')}` } })).status, 401, 'learners cannot read the report');

  // The CLI prints the same numbers.
  const cliRun = await cliAsync(dir, ['session', 'report', sessionId]);
  t.equal(cliRun.code, 0, cliRun.stderr);
  t.match(cliRun.stdout, /engagement:\s+2 chat, 1 questions, 1 upvotes, 2 poll answers, 3 reactions,\s+1 hands/);
  const cliCsv = await cliAsync(dir, ['session', 'report', sessionId, '--csv', 'polls']);
  // The poll was still open when the class ended: the end closed it with its final results.
  t.match(cliCsv.stdout, /^poll,option,votes,share %,closed\r\nReady\?,Yes,1,50,yes\r\nReady\?,No,1,50,yes\r\n/);
  t.equal((await cliAsync(dir, ['session', 'report', 's_ffffffffffffffff'])).code, 2);

  // The studio's Reports tab, as the instructor sees it.
  for (const scheme of ['light', 'dark'] as const) {
    for (const width of [1280, 390]) {
      const studio = await browser.newPage({ width, height: 900 });
      await studio.emulateMedia({ colorScheme: scheme });
      const errors: string[] = [];
      studio.on('pageerror', (e) => errors.push(e.message));
      await studio.goto(`${ts.base}/studio/biology?token=${token('prof', 'Prof', 'instructor')}`);
      await studio.click('button.tab:has-text("Reports")');
      await studio.waitForSelector('figure[data-chart="viewers"] canvas', { timeout: 10000 });
      t.equal(await studio.locator('figure[data-chart] canvas').count() >= 3, true, `${scheme} ${width}: three charts drawn`);
      t.equal(await studio.textContent('[data-stat="chat"] .num'), '2', `${scheme} ${width}: chat count shown`);
      t.equal(await studio.textContent('[data-stat="attended"] .num'), '3');
      t.equal(await studio.locator('table.learners tbody tr').count(), 3);
      // The top rung could be passed through (360p source, 2 s keyframes) and nothing told how many would watch.
      t.equal(await studio.textContent('[data-delivery]'), 'Delivery: top rung passed through: no audience known yet (no course roster, no past class on this channel).', `${scheme} ${width}: how the class was delivered`);
      await studio.waitForSelector('[data-cost="ours"] .num');
      t.match(await studio.textContent('[data-cost="ours"] .num'), /^\$\d+\.\d\d$/, `${scheme} ${width}: this month's cost of the channel's classes`);
      t.match(await studio.textContent('[data-cost="ours"] .label'), '(1 class)');
      t.match(await studio.textContent('[data-cost="oursAtZeroEgress"] .num'), /^\$\d+\.\d\d$/, `${scheme} ${width}: the same classes if egress were free`);
      t.match(await studio.textContent('[data-cost-basis]'), /MB delivered per viewer-minute, egress priced at \$0\.085\/GB/, 'what the cost assumed');
      const overflow = await studio.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      t.equal(overflow, 0, `${scheme} ${width}: no horizontal overflow`);
      if (width === 1280 && scheme === 'light') {
        await studio.click('table.learners th:nth-child(6) button'); // sort by chat, ascending
        const first = await studio.textContent('table.learners tbody tr:first-child td:first-child');
        await studio.click('table.learners th:nth-child(6) button'); // descending
        t.equal(await studio.textContent('table.learners tbody tr:first-child td:first-child'), 'Ada', 'sorted by chat, most first');
        t.not(first, 'Ada', 'and least first before');
        const [download] = await Promise.all([studio.waitForEvent('download'), studio.click('.table-head:has-text("Learners") button.csv')]);
        t.equal(download.suggestedFilename(), `${sessionId}-learners.csv`, 'CSV export from the tab');
      }
      await studio.screenshot({ path: join(shots, `reports-${scheme}-${width}.png`), fullPage: true });
      t.same(errors, [], `${scheme} ${width}: no page errors`);
      await studio.close();
    }
  }
});
