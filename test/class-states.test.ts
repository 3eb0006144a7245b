// A class says where it stands the same way everywhere: scheduled, live, delivered, missed or cancelled.

import t from 'tap';
import { join } from 'node:path';
import { classState, nextStart } from '../src/classes/resolve.js';
import type { ScheduledClass } from '../src/domain/records.js';
import { openStore } from '../src/store/index.js';
import { cli, cliJson } from './helpers/cli.js';
import { testdir } from './helpers/testdir.js';

const at = Date.parse('2026-12-01T09:00:00Z');
const k = (o: Partial<ScheduledClass>): ScheduledClass => ({
  id: 1, courseId: null, channelId: 1, channel: 'c', title: 'T', startsAt: at, minutes: 45, record: true, archive: false,
  status: 'scheduled', sessionId: null, lineItemUrl: null, passbackAt: null, confirmed: true, ...o,
});

t.test('the state of a class from its schedule, its session and the clock', async (t) => {
  const open = (live: boolean) => () => live;
  t.equal(classState(k({}), at - 3600000, open(false)), 'scheduled');
  t.equal(classState(k({}), at + 10 * 60000, open(false)), 'scheduled', 'within its window, not started yet');
  t.equal(classState(k({}), at + 45 * 60000, open(false)), 'missed', 'its window passed without a session');
  t.equal(classState(k({ sessionId: 's_1' }), at + 60000, open(true)), 'live');
  t.equal(classState(k({ sessionId: 's_1' }), at + 60000, open(false)), 'delivered');
  t.equal(classState(k({ status: 'cancelled' }), at, open(false)), 'cancelled');
});

t.test('kmk-live class list says delivered, missed and scheduled', async (t) => {
  const dir = testdir(t);
  cliJson(dir, ['channel', 'create', 'math-101']);
  const store = openStore(join(dir, 'data', 'kmk.db'));
  t.teardown(() => store.close());
  const ch = store.channels.get('math-101');
  const now = Date.now();
  const delivered = store.classes.schedule({ courseId: null, channelId: ch.id, title: 'Fractions', startsAt: now - 3600000, minutes: 45, record: true, archive: false });
  const s = store.sessions.start(ch.id, false);
  store.classes.attachSession(delivered.id, s.id);
  store.sessions.end(s.id, 'publisher left');
  store.classes.schedule({ courseId: null, channelId: ch.id, title: 'Decimals', startsAt: now - 7200000, minutes: 45, record: true, archive: false });
  store.classes.schedule({ courseId: null, channelId: ch.id, title: 'Percent', startsAt: now + 86400000, minutes: 45, record: true, archive: false });
  const list = cliJson<{ title: string; state: string; status: string }[]>(dir, ['class', 'list']);
  t.same(Object.fromEntries(list.map((x) => [x.title, x.state])), { Fractions: 'delivered', Decimals: 'missed', Percent: 'scheduled' });
  const human = cli(dir, ['class', 'list']).stdout;
  t.match(human, /^ID .*STATE /m, 'the table has a state column');
  t.match(human, /Fractions .* delivered /);
  t.match(human, /Decimals .* missed/);
  t.notMatch(human, /Fractions .* scheduled/, 'a delivered class no longer says "scheduled"');
});

t.test('a deep-linked class the LMS never confirmed goes once its time is over; confirmed ones stay', async (t) => {
  const store = openStore(join(testdir(t), 'kmk.db'));
  t.teardown(() => store.close());
  const ch = store.channels.create({ slug: 'c1', title: 'C', ladder: ['360p'], latency: 'standard', record: true, archive: false, overflow: 'degrade' });
  const now = Date.now();
  const base = { courseId: null, channelId: ch.id, minutes: 45, record: true, archive: false };
  const orphan = store.classes.schedule({ ...base, title: 'never saved in the LMS', startsAt: now - 3 * 3600000, confirmed: false });
  const upcoming = store.classes.schedule({ ...base, title: 'not launched yet', startsAt: now + 3600000, confirmed: false });
  const kept = store.classes.schedule({ ...base, title: 'launched', startsAt: now - 3 * 3600000, confirmed: false });
  store.classes.confirm(kept.id);
  const plain = store.classes.schedule({ ...base, title: 'from the CLI', startsAt: now - 3 * 3600000 });
  t.equal(store.classes.dropUnconfirmed(now), 1, 'one class to drop');
  t.equal(store.classes.find(orphan.id), undefined, 'the orphan is gone');
  for (const k of [upcoming, kept, plain]) t.ok(store.classes.find(k.id), `"${k.title}" stays`);
  t.equal(nextStart(store.classes.list({ channelId: ch.id }), now), null, 'an unconfirmed class is not announced in the waiting room');
});
