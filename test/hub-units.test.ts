import t from 'tap';
import { parseTtl, signJoinToken, verifyJoinToken } from '../src/auth/join-token.js';
import { parseClientMessage } from '../src/hub/protocol.js';
import { RateLimiter } from '../src/hub/rate.js';
import { Room, type Member } from '../src/hub/room.js';
import { claimsFrom } from '../src/auth/mint.js';

const secret = Buffer.from('s'.repeat(64));
let n = 0;
const room = () => new Room('c', { chatMaxLength: 500, chatBurst: 5, chatWindowMs: 10000, historySize: 3, presenceEveryMs: 2000, newId: () => `id${++n}` });
const member = (connId: number, userId: string, role: Member['role'] = 'learner'): Member => ({ connId, userId, name: userId, role, guest: false });

t.test('join tokens: signed, verified, expiring, tamper-evident', async (t) => {
  const claims = { sub: 'u1', name: 'Ada', role: 'learner' as const, channel: 'math-101', exp: 2000 };
  const tok = signJoinToken(claims, secret);
  t.match(verifyJoinToken(tok, secret, 1000), { ok: true, claims });
  t.match(verifyJoinToken(tok, secret, 2000), { ok: false, code: 'expired' });
  t.match(verifyJoinToken(tok, Buffer.from('other'), 1000), { ok: false, code: 'bad_signature' });
  const [h, , s] = tok.split('.');
  const forgedBody = Buffer.from(JSON.stringify({ ...claims, role: 'instructor' })).toString('base64url');
  t.match(verifyJoinToken(`${h}.${forgedBody}.${s}`, secret, 1000), { ok: false, code: 'bad_signature' });
  t.match(verifyJoinToken('a.b', secret, 1000), { ok: false, code: 'malformed' });
  t.match(verifyJoinToken(signJoinToken({ ...claims, role: 'root' as never }, secret), secret, 1000), { ok: false, code: 'bad_claims' });
  t.equal(parseTtl('4h'), 14400);
  t.equal(parseTtl('90m'), 5400);
  t.equal(parseTtl('31d'), undefined);
  t.equal(parseTtl('0s'), undefined);
  t.throws(() => claimsFrom({ channel: 'c', user: '', name: 'x', role: 'learner' }, 0), /user/);
  t.throws(() => claimsFrom({ channel: 'c', user: 'u', name: 'x', role: 'learner', ttl: 5 }, 0), /ttl/);
});

t.test('the parser turns untrusted frames into typed messages or stable error codes', async (t) => {
  const p = (s: string) => parseClientMessage(s, { chatMaxLength: 10 });
  t.match(p('{"v":1,"t":"chat","text":"  hi  "}'), { ok: true, msg: { t: 'chat', text: 'hi' } });
  t.match(p('{"v":1,"t":"chat","text":"01234567890"}'), { ok: false, code: 'invalid' });
  t.match(p('{"v":1,"t":"poll_create","question":"q","options":["a","b","c","d","e","f","g","h","i","j","k"]}'), { ok: false, code: 'invalid' });
  t.match(p('{"v":1,"t":"hand_lower","userId":""}'), { ok: false, code: 'invalid' });
  t.match(p('x'.repeat(5000)), { ok: false, code: 'bad_frame' });
  t.match(p('{"v":1,"t":"constructor"}'), { ok: false, code: 'unknown_type' });
  t.match(p('{"v":1,"t":"ping","ref":"abc"}'), { ok: true, ref: 'abc' });
});

t.test('rate limiter: a burst, then refill over the window', async (t) => {
  const r = new RateLimiter(5, 10000);
  for (let i = 0; i < 5; i++) t.ok(r.take('u', 0));
  t.notOk(r.take('u', 0));
  t.notOk(r.take('u', 1000), 'half a token after 1 s');
  t.ok(r.take('u', 2000), 'one token after 2 s');
  t.ok(r.take('v', 0), 'per user');
});

t.test('room: history is bounded, presence counts distinct users, hands leave with their owner', async (t) => {
  const r = room();
  r.join(member(1, 'teach', 'instructor'));
  r.join(member(2, 'a'));
  r.join(member(3, 'a'));
  t.equal(r.presence, 1, 'two tabs of one user count once, and the instructor is not watching');
  r.join(member(9, 'b'));
  t.equal(r.presence, 2, 'another learner counts');
  r.leave(9);
  for (let i = 0; i < 5; i++) r.handle(1, { t: 'chat', text: `m${i}` }, 1000 + i);
  t.same(r.snapshot('learner').chat.map((c) => c.text), ['m2', 'm3', 'm4']);
  r.handle(2, { t: 'hand_raise' }, 2000);
  t.equal(r.snapshot('instructor').hands?.length, 1);
  t.equal(r.snapshot('learner').hands, undefined, 'learners never get the queue');
  r.leave(2);
  t.equal(r.snapshot('instructor').hands?.length, 1, 'still one tab open');
  const out = r.leave(3);
  t.same(out.staffEvents, [{ t: 'hands', queue: [] }], 'the hand goes down when the last tab closes');
  const ev = r.tick(5000);
  t.match(ev, [{ t: 'presence', count: 0 }], 'only the instructor is left: nobody is watching');
  t.same(r.tick(5100), [], 'presence is not repeated when unchanged');
});

t.test('room: a new class resets questions, polls and hands but keeps chat', async (t) => {
  const r = room();
  r.join(member(1, 'teach', 'instructor'));
  r.handle(1, { t: 'chat', text: 'before' }, 1);
  r.handle(1, { t: 'ask', text: 'q' }, 2);
  r.handle(1, { t: 'poll_create', question: 'p', options: ['a', 'b'] }, 3);
  const out = r.setClass({ state: 'live', sessionId: 's_1', replay: null });
  t.match(out.events, [{ t: 'class', state: 'live', sessionId: 's_1' }]);
  const s = r.snapshot('instructor');
  t.same([s.chat.length, s.questions.length, s.polls.length], [1, 0, 0]);
  t.equal(r.sessionId, 's_1');
  r.setClass({ state: 'ended', sessionId: 's_1', replay: '/vod/s_1/master.m3u8' });
  t.equal(r.sessionId, null, 'after the end, new activity belongs to no session');
});

t.test('room: upvote toggles are rate limited like chat (each one is a database write)', async (t) => {
  const r = room();
  r.join(member(1, 'a'));
  r.join(member(2, 'b'));
  r.handle(1, { t: 'ask', text: 'Why?' }, 1000);
  const q = r.snapshot('learner').questions[0]!;
  let refused = 0;
  let written = 0;
  for (let i = 0; i < 100; i++) {
    const out = r.handle(2, { t: 'q_vote', id: q.id }, 2000 + i);
    written += out.persist.length;
    refused += out.reply.filter((m) => m.t === 'error' && m.code === 'rate_limited').length;
  }
  t.equal(written, 20, '20 toggles in 10 s reach the store');
  t.equal(refused, 80, 'the rest are refused with rate_limited');
  t.equal(r.handle(2, { t: 'q_vote', id: q.id }, 13000).persist.length, 1, 'the window refills');
  t.equal(r.handle(1, { t: 'q_vote', id: q.id }, 2100).persist.length, 1, 'other learners are not affected');
});

t.test('viewers watch and read but every post is refused', async (t) => {
  const r = room();
  r.join(member(1, 'mentor', 'viewer'));
  for (const msg of [{ t: 'chat', text: 'hi' }, { t: 'ask', text: 'q?' }, { t: 'react', emoji: '👍' }, { t: 'hand_raise' }] as const) {
    const out = r.handle(1, msg, 1000);
    t.match(out.reply, [{ t: 'error', code: 'forbidden' }], `${msg.t} refused`);
    t.same(out.persist, []);
  }
  t.match(r.handle(1, { t: 'ping' }, 1000).reply, [{ t: 'pong' }], 'ping still answered');
});

t.test('a join token claiming a life longer than any we mint is refused', async (t) => {
  const secret = Buffer.alloc(32, 1);
  const long = signJoinToken({ sub: 'u', name: 'U', role: 'learner', channel: 'c', exp: 1e308 }, secret);
  t.match(verifyJoinToken(long, secret, 1000), { ok: false, code: 'bad_claims' });
  const month = signJoinToken({ sub: 'u', name: 'U', role: 'learner', channel: 'c', exp: 1000 + 30 * 86400 }, secret);
  t.match(verifyJoinToken(month, secret, 1000), { ok: true }, '30 days, the longest we mint, is fine');
  t.equal(parseTtl('31d'), undefined, 'and minting refuses more');
});

t.test('room: when the class ends, open polls close with final results and learners can no longer post', async (t) => {
  const r = room();
  r.join(member(1, 'teach', 'instructor'));
  r.join(member(2, 'ada'));
  r.setClass({ state: 'live', sessionId: 's_1', replay: null });
  r.handle(1, { t: 'poll_create', question: 'Next?', options: ['a', 'b'] }, 1000);
  const poll = r.snapshot('learner').polls[0]!;
  r.handle(2, { t: 'poll_vote', id: poll.id, option: 1 }, 1100);
  r.handle(2, { t: 'hand_raise' }, 1200);
  const out = r.setClass({ state: 'ended', sessionId: 's_1', replay: '/vod/s_1/master.m3u8' });
  t.match(out.events, [{ t: 'poll', poll: { id: poll.id, closed: true, counts: [0, 1], total: 1 } }, { t: 'class', state: 'ended' }], 'the open poll closes with its final count');
  t.match(out.persist, [{ op: 'poll', poll: { id: poll.id, closed: true } }], 'and is saved closed');
  t.same(out.staffEvents, [{ t: 'hands', queue: [] }], 'raised hands go down');
  for (const msg of [{ t: 'chat', text: 'hi' }, { t: 'ask', text: 'q?' }, { t: 'hand_raise' }, { t: 'poll_vote', id: poll.id, option: 0 }] as const) {
    t.match(r.handle(2, msg, 2000).reply, [{ t: 'error', code: 'class_ended' }], `a learner's ${msg.t} is refused after the class`);
  }
  t.same(r.handle(1, { t: 'chat', text: 'thanks all' }, 2000).reply, [], 'the instructor may still post');
  r.setClass({ state: 'live', sessionId: 's_2', replay: null });
  t.same(r.handle(2, { t: 'chat', text: 'back' }, 3000).reply, [], 'the next class opens the room again');
});

t.test('the write backoff: doubles from the minimum to the cap, resets on success, says when it recovered', async (t) => {
  const { Backoff } = await import('../src/hub/retry.js');
  const b = new Backoff(250, 5000);
  t.ok(b.ready(0), 'ready before any failure');
  t.same([b.failed(0), b.failed(0), b.failed(0), b.failed(0), b.failed(0), b.failed(0), b.failed(0)], [250, 500, 1000, 2000, 4000, 5000, 5000]);
  t.notOk(b.ready(4999), 'waits out the delay');
  t.ok(b.ready(5000));
  b.failed(10000);
  b.now();
  t.ok(b.ready(10000), 'now() lets the next try go at once');
  t.equal(b.succeeded(), true, 'it had been failing');
  t.equal(b.succeeded(), false);
  t.equal(b.failed(0), 250, 'after a success the delay starts again at the minimum');
});
