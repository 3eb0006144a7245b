import t from 'tap';
import { signJoinToken } from '../src/auth/join-token.js';
import type { Role } from '../src/domain/roles.js';
import { loadJoinSecret } from '../src/auth/join-secret.js';
import { startTestServer } from './helpers/server.js';
import { Client, type Event } from './helpers/ws.js';
import { testdir } from './helpers/testdir.js';

const dir = testdir(t);
let ts = await startTestServer(dir, { KMK_HUB_TICK_MS: '50' });
t.teardown(() => ts.server.stop());
const secret = () => loadJoinSecret('', ts.server.config['paths.data']);
const wsBase = () => ts.base.replace('http', 'ws') + '/ws';
const token = (channel: string, sub: string, role: Role = 'learner', name = sub, expIn = 3600) =>
  signJoinToken({ sub, name, role, channel, exp: Math.floor(Date.now() / 1000) + expIn }, secret());
const join = (channel: string, sub: string, role: Role = 'learner') => Client.connect(`${wsBase()}?token=${token(channel, sub, role)}`);

for (const slug of ['math-101', 'other', 'open-day', 'rules', 'qa', 'polls', 'fun', 'mods', 'history']) {
  ts.createChannel(slug, { record: false });
}
ts.server.store.channels.update('open-day', { allowGuests: true });

t.test('joining: a valid token is welcomed; missing, expired, forged and other-channel tokens get 401', async (t) => {
  const c = await join('math-101', 'ada', 'learner');
  t.teardown(() => c.close());
  await c.waitFor('welcome', () => c.messages.find((m) => m.t === 'welcome'));
  t.match(c.welcome, { v: 1, you: { userId: 'ada', role: 'learner', guest: false }, room: { class: { state: 'waiting' }, chat: [] } });
  t.equal(await Client.status(wsBase()), 401, 'missing token');
  t.equal(await Client.status(`${wsBase()}?token=${token('math-101', 'bob', 'learner', 'Bob', -10)}`), 401, 'expired');
  const forged = signJoinToken({ sub: 'eve', name: 'Eve', role: 'instructor', channel: 'math-101', exp: Math.floor(Date.now() / 1000) + 60 }, Buffer.from('x'.repeat(64)));
  t.equal(await Client.status(`${wsBase()}?token=${forged}`), 401, 'forged');
  t.equal(await Client.status(`${wsBase()}?token=${token('other', 'bob')}&channel=math-101`), 401, 'token for another channel');
  t.equal(await Client.status(`${wsBase()}?token=${token('nope', 'bob')}`), 401, 'unknown channel');
  t.equal(await Client.status(`${wsBase()}?token=abc.def.ghi`), 401, 'garbage');
  t.equal(await Client.status(`${wsBase()}?token=%E0%A4`), 401, 'bad escape');
});

t.test('guests join with a name where the channel allows it, nowhere else', async (t) => {
  const g = await Client.connect(`${wsBase()}?channel=open-day&name=${encodeURIComponent('Visitor Vi')}`);
  t.teardown(() => g.close());
  await g.waitFor('welcome', () => g.messages.find((m) => m.t === 'welcome'));
  t.match(g.welcome, { you: { name: 'Visitor Vi', role: 'learner', guest: true, userId: /^guest-/ } });
  t.equal(await Client.status(`${wsBase()}?channel=math-101&name=Vi`), 401, 'channel without guests');
  t.equal(await Client.status(`${wsBase()}?channel=open-day&name=`), 401, 'empty name');
  t.equal(await Client.status(`${wsBase()}?channel=open-day&name=${'x'.repeat(81)}`), 401, 'name too long');
});

t.test('chat: delivered to everyone in batches; length, rate limit, slow mode and lock are enforced for learners', async (t) => {
  const teacher = await join('rules', 'teach', 'instructor');
  const ann = await join('rules', 'ann');
  const ben = await join('rules', 'ben');
  t.teardown(() => [teacher, ann, ben].forEach((c) => c.close()));
  ann.send({ t: 'chat', text: 'hello' });
  const got = await ben.event('chat');
  t.match(got, { msg: { userId: 'ann', text: 'hello', role: 'learner' } });
  ann.send({ t: 'chat', text: 'x'.repeat(501) });
  t.match(await ann.error('invalid'), { message: /1-500 characters/ });
  for (let i = 0; i < 6; i++) ben.send({ t: 'chat', text: `burst ${i}` });
  t.match(await ben.error('rate_limited'), { message: /at most 5 messages per 10 s/ });
  await ann.waitFor('ben burst', () => ann.events.filter((e) => e.t === 'chat' && (e.msg as { userId: string }).userId === 'ben').length === 5);
  t.equal(ben.errors('rate_limited').length, 1, 'a burst of 5 passes, the 6th is refused');
  for (let i = 0; i < 8; i++) teacher.send({ t: 'chat', text: `teacher ${i}` });
  await ann.waitFor('all teacher messages', () => ann.events.filter((e) => e.t === 'chat' && (e.msg as { userId: string }).userId === 'teach').length === 8);
  t.equal(teacher.errors().length, 0, 'instructors are exempt from the rate limit');
  const batches = ann.messages.filter((m) => m.t === 'batch' && (m.events as Event[]).some((e) => e.t === 'chat' && (e.msg as { userId: string }).userId === 'teach'));
  t.ok(batches.length < 8, `8 messages arrived in ${batches.length} frame(s)`);

  teacher.send({ t: 'slow_mode', seconds: 30 });
  await ann.event('chat_state', (e) => e.slowModeSeconds === 30);
  const carl = await join('rules', 'carl');
  t.teardown(() => carl.close());
  carl.send({ t: 'chat', text: 'first' });
  carl.send({ t: 'chat', text: 'second' });
  t.match(await carl.error('slow_mode'), { message: /one message every 30 s/ });
  ann.send({ t: 'slow_mode', seconds: 0 });
  t.match(await ann.error('forbidden'), { message: /only the instructor/ });
  teacher.send({ t: 'slow_mode', seconds: 0 });
  teacher.send({ t: 'lock_chat', locked: true });
  await carl.event('chat_state', (e) => e.locked === true);
  carl.send({ t: 'chat', text: 'locked?' });
  t.ok(await carl.error('chat_locked'));
  teacher.send({ t: 'chat', text: 'staff can still talk' });
  await carl.event('chat', (e) => (e.msg as { text: string }).text === 'staff can still talk');
  teacher.send({ t: 'lock_chat', locked: false });
});

t.test('Q&A: upvote once (a second vote takes it back), ordered by votes then time, staff mark answered', async (t) => {
  const mod = await join('qa', 'mod', 'moderator');
  const a = await join('qa', 'a');
  const b = await join('qa', 'b');
  t.teardown(() => [mod, a, b].forEach((c) => c.close()));
  a.send({ t: 'ask', text: 'first question' });
  const q1 = (await b.event('question')).q as { id: string };
  b.send({ t: 'ask', text: 'second question' });
  const q2 = (await a.event('question', (e) => (e.q as { text: string }).text === 'second question')).q as { id: string };
  a.send({ t: 'q_vote', id: q2.id });
  b.send({ t: 'q_vote', id: q2.id });
  b.send({ t: 'q_vote', id: q1.id });
  await mod.event('question', (e) => (e.q as { id: string; votes: number }).id === q2.id && (e.q as { votes: number }).votes === 2);
  b.send({ t: 'q_vote', id: q1.id }); // toggles off
  await mod.event('question', (e) => (e.q as { id: string; votes: number }).id === q1.id && (e.q as { votes: number }).votes === 0 && mod.events.filter((x) => x.t === 'question' && (x.q as { id: string }).id === q1.id).length >= 3);
  a.send({ t: 'q_answer', id: q1.id });
  t.ok(await a.error('forbidden'), 'a learner cannot mark answered');
  mod.send({ t: 'q_answer', id: q1.id });
  await a.event('question', (e) => (e.q as { id: string; status: string }).id === q1.id && (e.q as { status: string }).status === 'answered');
  mod.send({ t: 'q_vote', id: 'nope' });
  t.ok(await mod.error('not_found'));
  const late = await join('qa', 'late');
  t.teardown(() => late.close());
  await late.waitFor('welcome', () => late.messages.find((m) => m.t === 'welcome'));
  const qs = (late.welcome.room as { questions: { id: string; votes: number; status: string }[] }).questions;
  t.same(qs.map((q) => [q.id, q.votes, q.status]), [[q2.id, 2, 'open'], [q1.id, 0, 'answered']], 'history: by votes, then time');
});

t.test('polls: only the instructor creates; one vote per user, changeable while open; close gives final results', async (t) => {
  const teacher = await join('polls', 'teach', 'instructor');
  const a = await join('polls', 'a');
  const b = await join('polls', 'b');
  t.teardown(() => [teacher, a, b].forEach((c) => c.close()));
  a.send({ t: 'poll_create', question: 'Mine?', options: ['x', 'y'] });
  t.ok(await a.error('forbidden'), 'a learner cannot create a poll');
  teacher.send({ t: 'poll_create', question: 'Ready?', options: ['yes', 'no', 'maybe'] });
  teacher.send({ t: 'poll_create', question: 'Bad', options: ['only one'] });
  t.match(await teacher.error('invalid'), { message: /2-10 options/ });
  const poll = (await a.event('poll')).poll as { id: string };
  a.send({ t: 'poll_vote', id: poll.id, option: 0 });
  b.send({ t: 'poll_vote', id: poll.id, option: 0 });
  b.send({ t: 'poll_vote', id: poll.id, option: 0 }); // same vote again: no change
  a.send({ t: 'poll_vote', id: poll.id, option: 2 }); // changed
  const results = await teacher.event('poll', (e) => JSON.stringify((e.poll as { counts: number[] }).counts) === '[1,0,1]');
  t.match(results.poll, { total: 2, closed: false });
  a.send({ t: 'poll_vote', id: poll.id, option: 7 });
  t.ok(await a.error('invalid'), 'no such option');
  teacher.send({ t: 'poll_close', id: poll.id });
  const final = await b.event('poll', (e) => (e.poll as { closed: boolean }).closed);
  t.match(final.poll, { counts: [1, 0, 1], total: 2, closed: true });
  b.send({ t: 'poll_vote', id: poll.id, option: 1 });
  t.ok(await b.error('poll_closed'));
  const late = await join('polls', 'late');
  t.teardown(() => late.close());
  await late.waitFor('welcome', () => late.messages.find((m) => m.t === 'welcome'));
  t.match((late.welcome.room as { polls: unknown[] }).polls, [{ question: 'Ready?', counts: [1, 0, 1], closed: true }]);
});

t.test('reactions are aggregated per tick, never one message per reaction; hands queue in order', async (t) => {
  const teacher = await join('fun', 'teach', 'instructor');
  const learners = await Promise.all(['a', 'b', 'c'].map((n) => join('fun', n)));
  t.teardown(() => [teacher, ...learners].forEach((c) => c.close()));
  for (let i = 0; i < 10; i++) for (const l of learners) l.send({ t: 'react', emoji: '👏' });
  await teacher.waitFor('30 claps', () => teacher.events.filter((e) => e.t === 'reactions').reduce((n, e) => n + ((e.counts as Record<string, number>)['👏'] ?? 0), 0) === 30);
  const frames = teacher.events.filter((e) => e.t === 'reactions').length;
  t.ok(frames <= 5, `30 reactions arrived as ${frames} aggregated event(s)`);
  learners[0]!.send({ t: 'react', emoji: '💩' });
  t.ok(await learners[0]!.error('invalid'), 'only the fixed set');
  teacher.send({ t: 'clear_reactions' });
  await learners[1]!.event('reactions_cleared');

  learners[1]!.send({ t: 'hand_raise' });
  await learners[1]!.waitFor('hand ack', () => learners[1]!.messages.find((m) => m.t === 'hand' && m.raised === true));
  learners[0]!.send({ t: 'hand_raise' });
  const queue = await teacher.event('hands', (e) => (e.queue as unknown[]).length === 2);
  t.same((queue.queue as { userId: string }[]).map((h) => h.userId), ['b', 'a'], 'in the order raised');
  t.notOk(learners[2]!.events.some((e) => e.t === 'hands'), 'learners do not see the queue');
  learners[2]!.send({ t: 'hand_lower', userId: 'b' });
  t.ok(await learners[2]!.error('forbidden'), 'a learner cannot lower another hand');
  teacher.send({ t: 'hand_lower', userId: 'b' });
  await teacher.event('hands', (e) => JSON.stringify((e.queue as { userId: string }[]).map((h) => h.userId)) === '["a"]');
  await learners[1]!.waitFor('hand lowered', () => learners[1]!.messages.find((m) => m.t === 'hand' && m.raised === false));

  await teacher.event('presence', (e) => e.count === 3); // the three learners; the instructor is not counted
  learners[0]!.send({ t: 'participants' });
  t.ok(await learners[0]!.error('forbidden'), 'learners cannot list participants');
  teacher.send({ t: 'participants' });
  const list = await teacher.waitFor('participants', () => teacher.messages.find((m) => m.t === 'participants'));
  t.same((list.list as { userId: string }[]).map((p) => p.userId).sort(), ['a', 'b', 'c', 'teach']);
});

t.test('moderation: delete for everyone, mute, ban that survives a new token', async (t) => {
  const mod = await join('mods', 'mod', 'moderator');
  const a = await join('mods', 'a');
  const troll = await join('mods', 'troll');
  t.teardown(() => [mod, a, troll].forEach((c) => c.close()));
  troll.send({ t: 'chat', text: 'spam spam' });
  const msg = (await a.event('chat')).msg as { id: string };
  a.send({ t: 'delete', id: msg.id });
  t.ok(await a.error('forbidden'), 'a learner cannot delete a message');
  mod.send({ t: 'delete', id: msg.id });
  await a.event('chat_deleted', (e) => e.id === msg.id);
  const late = await join('mods', 'late');
  t.teardown(() => late.close());
  await late.waitFor('welcome', () => late.messages.find((m) => m.t === 'welcome'));
  t.same((late.welcome.room as { chat: unknown[] }).chat, [], 'deleted messages leave the history');

  mod.send({ t: 'mute', userId: 'troll', minutes: 5 });
  await troll.waitFor('muted notice', () => troll.messages.find((m) => m.t === 'muted'));
  troll.send({ t: 'chat', text: 'still here' });
  t.ok(await troll.error('muted'));

  mod.send({ t: 'ban', userId: 'troll' });
  await troll.waitFor('disconnect', () => troll.closed);
  t.equal(troll.closed?.code, 4003, 'closed with 4003 banned');
  t.equal(await Client.status(`${wsBase()}?token=${token('mods', 'troll', 'learner', 'New Name')}`), 403, 'a new token for the same user is refused');
  await a.event('kicked', (e) => e.userId === 'troll');
});

t.test('invalid frames of every kind get an error with a stable code and never crash the server', async (t) => {
  const c = await join('math-101', 'fuzz');
  t.teardown(() => c.close());
  const cases: [string | Buffer, string][] = [
    ['not json', 'bad_json'], ['[1,2]', 'bad_frame'], ['null', 'bad_frame'], ['"str"', 'bad_frame'], ['{}', 'bad_version'],
    ['{"v":2,"t":"chat","text":"x"}', 'bad_version'], ['{"v":1}', 'bad_frame'], ['{"v":1,"t":42}', 'bad_frame'],
    ['{"v":1,"t":"launch_missiles"}', 'unknown_type'], ['{"v":1,"t":"chat"}', 'invalid'], ['{"v":1,"t":"chat","text":"   "}', 'invalid'],
    ['{"v":1,"t":"chat","text":{"$gt":""}}', 'invalid'], ['{"v":1,"t":"poll_vote","id":"x","option":-1}', 'invalid'],
    ['{"v":1,"t":"mute","userId":"a","minutes":1e9}', 'invalid'], ['{"v":1,"t":"q_vote","id":"../../etc"}', 'invalid'],
    ['{"v":1,"t":"react","emoji":null}', 'invalid'], ['{"v":1,"t":"__proto__"}', 'unknown_type'],
    ['{"v":1,"t":"slow_mode","seconds":"10"}', 'invalid'],
  ];
  for (const [frame] of cases) c.ws.send(frame);
  c.ws.send(Buffer.from([0, 1, 2, 3]), { binary: true });
  await c.waitFor('all errors', () => c.errors().length === cases.length + 1 || undefined);
  t.same(c.errors().slice(0, cases.length).map((e) => e.code), cases.map(([, code]) => code));
  t.equal(c.errors()[cases.length]?.code, 'bad_frame', 'binary frames are refused');
  c.send({ t: 'chat', text: 'still alive', ref: 'r1' });
  c.send({ t: 'nope', ref: 'r2' });
  t.match(await c.waitFor('ref echoed', () => c.errors().find((e) => e.ref === 'r2')), { code: 'unknown_type' });
  const other = await join('math-101', 'other');
  t.teardown(() => other.close());
  await other.waitFor('welcome', () => other.messages.find((m) => m.t === 'welcome'));
  t.ok(other.welcome, 'the server still serves new clients');
});

t.test('a frame over 4 KB closes the socket with 1009', async (t) => {
  const c = await join('math-101', 'big');
  c.ws.send(JSON.stringify({ v: 1, t: 'chat', text: 'x'.repeat(5000) }));
  await c.waitFor('close', () => c.closed);
  t.equal(c.closed?.code, 1009, 'closed with 1009', { closed: c.closed });
});

t.test('history on join holds the last 100 chat messages, and it survives a server restart', async (t) => {
  const teacher = await join('history', 'teach', 'instructor');
  for (let i = 0; i < 105; i++) teacher.send({ t: 'chat', text: `line ${i}` });
  teacher.send({ t: 'poll_create', question: 'Kept?', options: ['yes', 'no'] });
  await teacher.waitFor('all lines', () => teacher.events.filter((e) => e.t === 'chat').length === 105 && teacher.events.some((e) => e.t === 'poll'));
  const late = await join('history', 'late');
  await late.waitFor('welcome', () => late.messages.find((m) => m.t === 'welcome'));
  const chat = (late.welcome.room as { chat: { text: string }[] }).chat;
  t.equal(chat.length, 100);
  t.equal(chat[0]?.text, 'line 5');
  t.equal(chat[99]?.text, 'line 104');
  teacher.send({ t: 'mute', userId: 'late', minutes: 5 });
  await late.waitFor('muted notice', () => late.messages.find((m) => m.t === 'muted'));
  await new Promise((r) => setTimeout(r, 400)); // one persistence flush (250 ms)
  teacher.close();
  late.close();
  await ts.server.stop();
  ts = await startTestServer(dir);
  const after = await join('history', 'after');
  t.teardown(() => after.close());
  await after.waitFor('welcome', () => after.messages.find((m) => m.t === 'welcome'));
  const room = after.welcome.room as { chat: { text: string }[]; polls: { question: string }[] };
  t.equal(room.chat.length, 100, 'chat history is still there after a restart');
  t.equal(room.chat[99]?.text, 'line 104');
  t.same(room.polls.map((p) => p.question), ['Kept?'], 'polls too');
  const banned = await Client.status(`${wsBase()}?token=${token('mods', 'troll')}`);
  t.equal(banned, 403, 'bans too');
  const muted = await join('history', 'late');
  t.teardown(() => muted.close());
  await muted.waitFor('welcome', () => muted.messages.find((m) => m.t === 'welcome'));
  muted.send({ t: 'chat', text: 'am I still muted?' });
  t.ok(await muted.error('muted'), 'and mutes');
});
