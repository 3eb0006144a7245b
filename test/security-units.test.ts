// The security review's findings that live in pure code or one file: join secrets on disk, join-token policy
// (staff scope and lifetime, a channel's epoch, guests), room rank rules, question caps, the pending-login cap.

import t from 'tap';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadJoinSecret } from '../src/auth/join-secret.js';
import { joinVerifier, signJoinToken } from '../src/auth/join-token.js';
import { claimsFrom } from '../src/auth/mint.js';
import { QUESTION_LIMITS, Room, type Member } from '../src/hub/room.js';
import { openStore } from '../src/store/index.js';
import { testdir } from './helpers/testdir.js';

t.test('a join secret file shorter than 32 bytes is refused, never used', async (t) => {
  const dir = testdir(t);
  for (const text of ['', '\n', 'short', 'x'.repeat(31)]) {
    writeFileSync(join(dir, 'join-secret'), text);
    t.throws(() => loadJoinSecret('', dir), { message: new RegExp(`${join(dir, 'join-secret').replace(/[/.]/g, '\\$&')} holds fewer than 32 bytes`) }, `${JSON.stringify(text)} is refused with the file named`);
  }
  t.throws(() => loadJoinSecret('too-short', dir), /hub\.joinSecret is shorter than 32 bytes/, 'a short configured secret too');
});

t.test('a new join secret is written whole, mode 0600, through a temporary file that does not stay', async (t) => {
  const dir = join(testdir(t), 'data');
  const old = process.umask(0o000);
  t.teardown(() => process.umask(old));
  const first = loadJoinSecret('', dir);
  t.equal(first.length, 64, '32 random bytes in hex');
  t.equal(statSync(join(dir, 'join-secret')).mode & 0o777, 0o600, 'only the owner can read it, whatever the umask');
  t.same(readdirSync(dir), ['join-secret'], 'no temporary file left behind');
  t.ok(loadJoinSecret('', dir).equals(first), 'the next start reads the same secret');
  const configured = 'c'.repeat(40);
  t.equal(loadJoinSecret(configured, dir).toString(), configured, 'hub.joinSecret wins when set');
});

t.test('staff join tokens need their own permission and live at most the staff limit', async (t) => {
  const staff = { staff: false, staffMaxSeconds: 12 * 3600 };
  t.throws(() => claimsFrom({ channel: 'c', user: 'u', name: 'N', role: 'instructor' }, 0, staff), { name: 'ForbiddenError', message: /tokens:staff/ });
  t.throws(() => claimsFrom({ channel: 'c', user: 'u', name: 'N', role: 'moderator' }, 0, staff), { name: 'ForbiddenError' });
  t.match(claimsFrom({ channel: 'c', user: 'u', name: 'N', role: 'learner', ttl: '2d' }, 0, staff), { role: 'learner', exp: 2 * 86400 }, 'learners as before');
  t.throws(() => claimsFrom({ channel: 'c', user: 'u', name: 'N', role: 'instructor', ttl: '13h' }, 0, { ...staff, staff: true }), /at most 12h/);
  t.match(claimsFrom({ channel: 'c', user: 'u', name: 'N', role: 'instructor', ttl: '12h' }, 0, { ...staff, staff: true }), { role: 'instructor' });
});

t.test('the installation verifier refuses long-lived staff tokens, tokens before the channel epoch, and guests where none are taken', async (t) => {
  const secret = Buffer.alloc(32, 7);
  let after = 0;
  let guests = true;
  const verify = joinVerifier(secret, { staffMaxSeconds: 12 * 3600, tokensAfter: () => after, allowsGuests: () => guests });
  const tok = (o: Record<string, unknown>) => signJoinToken({ sub: 'u', name: 'N', role: 'learner', channel: 'c', iat: 1000, exp: 1000 + 3600, ...o } as never, secret);
  t.match(verify(tok({ role: 'instructor', exp: 1000 + 12 * 3600 }), 1001), { ok: true });
  t.match(verify(tok({ role: 'instructor', exp: 1000 + 24 * 3600 }), 1001), { ok: false, code: 'bad_claims' }, 'a 24 h instructor token, even well signed');
  t.match(verify(tok({ role: 'learner', exp: 1000 + 24 * 3600 }), 1001), { ok: true }, 'learners may have long links');
  after = 1001;
  t.match(verify(tok({}), 1002), { ok: false, code: 'revoked' }, 'issued before the epoch');
  t.match(verify(tok({ iat: 1001 }), 1002), { ok: true }, 'issued at the epoch');
  t.match(verify(signJoinToken({ sub: 'u', name: 'N', role: 'learner', channel: 'c', exp: 5000 }, secret), 1002), { ok: false, code: 'revoked' }, 'a token without iat predates every epoch');
  after = 0;
  const guest = tok({ sub: 'guest-0011223344556677', guest: true });
  t.match(verify(guest, 1001), { ok: true, claims: { guest: true } });
  guests = false;
  t.match(verify(guest, 1001), { ok: false, code: 'revoked' }, 'a guest token stops working when the channel stops taking guests');
  t.match(verify(tok({ sub: 'guest-0011223344556677', guest: true, role: 'instructor' }), 1001), { ok: false, code: 'bad_claims' }, 'a guest is never staff');
});

const member = (connId: number, userId: string, role: Member['role']): Member => ({ connId, userId, name: userId, role, guest: false });
let ids = 0;
const room = () => new Room('c', { chatMaxLength: 500, chatBurst: 5, chatWindowMs: 10000, historySize: 10, presenceEveryMs: 2000, newId: () => `q${++ids}` });

t.test('a moderator cannot ban or mute the instructor, nor another moderator', async (t) => {
  const r = room();
  const teacher = member(1, 'teach', 'instructor');
  const mod = member(2, 'mod', 'moderator');
  const mod2 = member(3, 'mod2', 'moderator');
  const learner = member(4, 'ann', 'learner');
  for (const m of [teacher, mod, mod2, learner]) r.join(m);
  const act = (who: Member, msg: object) => r.handle(who.connId, msg as never, 0);
  for (const t2 of ['ban', 'mute'] as const) {
    const msg = t2 === 'ban' ? { t: 'ban', userId: 'teach' } : { t: 'mute', userId: 'teach', minutes: 5 };
    t.match(act(mod, msg).reply, [{ t: 'error', code: 'forbidden', message: /an instructor cannot be/ }], `${t2} of the instructor by a moderator`);
    const onMod = t2 === 'ban' ? { t: 'ban', userId: 'mod2' } : { t: 'mute', userId: 'mod2', minutes: 5 };
    t.match(act(mod, onMod).reply, [{ t: 'error', code: 'forbidden', message: /only the instructor/ }], `${t2} of a moderator by a moderator`);
  }
  t.same(act(mod, { t: 'mute', userId: 'ann', minutes: 5 }).reply, [], 'a moderator mutes a learner');
  t.same(act(teacher, { t: 'mute', userId: 'mod2', minutes: 5 }).reply, [], 'the instructor mutes a moderator');
  r.leave(1);
  t.match(act(mod, { t: 'ban', userId: 'teach' }).reply, [{ code: 'forbidden' }], 'also once the instructor has left the room');
});

t.test('questions are capped per person and per class', async (t) => {
  const r = room();
  let now = 0;
  const ask = (m: Member) => {
    now += 21000; // past the 3-a-minute limit
    return r.handle(m.connId, { t: 'ask', text: `q at ${now}` } as never, now);
  };
  const ann = member(1, 'ann', 'learner');
  r.join(ann);
  const taken = Array.from({ length: QUESTION_LIMITS.perUser }, () => ask(ann).reply.length === 0);
  t.ok(taken.every(Boolean), `${QUESTION_LIMITS.perUser} questions from one learner are taken`);
  t.match(ask(ann).reply, [{ code: 'rate_limited', message: /at most 30 questions per person/ }]);
  const teacher = member(2, 'teach', 'instructor');
  r.join(teacher);
  // Staff skip the per-minute and per-person limits, so the instructor fills the class up to its cap.
  for (let i = QUESTION_LIMITS.perUser; i < QUESTION_LIMITS.perClass; i++) r.handle(teacher.connId, { t: 'ask', text: `q${i}` } as never, now);
  const w = r.join(member(3, 'late', 'learner')) as { room: { questions: unknown[] } };
  t.equal(w.room.questions.length, QUESTION_LIMITS.perClass, 'the class holds its cap');
  t.match(ask(member(3, 'late', 'learner')).reply, [{ code: 'rate_limited', message: /reached its 500 questions/ }], 'the next question is refused');
  t.match(ask(teacher).reply, [{ code: 'rate_limited' }], 'for staff too: the welcome stays bounded');
});

t.test('pending LTI logins are capped and expired ones swept by an index', async (t) => {
  const store = openStore(join(testdir(t), 'kmk.db'));
  t.teardown(() => store.close());
  const p = store.lti.addPlatform({ issuer: 'https://lms.example', clientId: 'c', authUrl: 'https://lms.example/auth', tokenUrl: 'https://lms.example/token', jwksUrl: 'https://lms.example/jwks', deploymentIds: [] });
  const save = (i: number, now: number, max: number) => store.lti.saveLogin({ state: `s${i}`, nonce: `n${i}`, platformId: p.id, storageTarget: null, expiresAt: now + 600000, binding: 'b' }, now, max);
  for (let i = 0; i < 5; i++) t.ok(save(i, 1000, 5), `login ${i} stored`);
  t.notOk(save(5, 1000, 5), 'the sixth pending login is refused');
  t.ok(store.lti.takeLogin('s0', 1000), 'a launch takes one');
  t.ok(save(6, 1000, 5), 'which makes room');
  t.ok(save(7, 700000, 5), 'after expiry the sweep makes room for new ones');
  const plan = store.db.prepare('EXPLAIN QUERY PLAN DELETE FROM lti_logins WHERE expires_at < ?').all(1) as { detail: string }[];
  t.match(plan.map((r) => r.detail).join(' '), /USING (COVERING )?INDEX lti_logins_expiry/, 'the sweep uses the index');
  const beacons = store.db.prepare('EXPLAIN QUERY PLAN SELECT COUNT(DISTINCT user_id) FROM beacons WHERE channel_id = ? AND at >= ?').all(1, 1) as { detail: string }[];
  t.match(beacons.map((r) => r.detail).join(' '), /INDEX beacons_channel_at/, '/metrics counts players through an index');
});
