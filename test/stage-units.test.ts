// The stage's rules in the hub (pure): invitations as short grants for one user, accept, decline, staff stepping
// up, leave, remove, mute, the cap, a learner who was not invited, the class ending; and the report's summary.
import t from 'tap';
import { Room, type Member } from '../src/hub/room.js';
import { Stage, INVITE_MS } from '../src/hub/stage.js';
import { parseClientMessage } from '../src/hub/protocol.js';
import { stageSummary } from '../src/reports/service.js';

let n = 0;
const room = (stageMax = 2) => new Room('c', { chatMaxLength: 500, chatBurst: 5, chatWindowMs: 10000, historySize: 3, presenceEveryMs: 2000, newId: () => `id${++n}`, stageMax });
const member = (connId: number, userId: string, role: Member['role']): Member => ({ connId, userId, name: `N ${userId}`, role, guest: false });
const T = 1_800_000_000_000;

t.test('parsing', async (t) => {
  const p = (s: string) => parseClientMessage(s, { chatMaxLength: 500 });
  t.match(p('{"v":1,"t":"stage_invite","userId":"amy"}'), { ok: true, msg: { t: 'stage_invite', userId: 'amy' } });
  t.match(p('{"v":1,"t":"stage_invite"}'), { ok: false, code: 'invalid' });
  t.match(p('{"v":1,"t":"stage_mute","userId":"amy","muted":"yes"}'), { ok: false, code: 'invalid' });
  t.match(p('{"v":1,"t":"stage_accept"}'), { ok: true, msg: { t: 'stage_accept' } });
});

t.test('invite, accept, mute, remove, leave, and who may publish', async (t) => {
  const r = room();
  r.join(member(1, 'prof', 'instructor'));
  r.join(member(2, 'amy', 'learner'));
  r.join(member(3, 'bo', 'learner'));
  r.join(member(4, 'mod', 'moderator'));
  t.match(r.handle(1, { t: 'stage_invite', userId: 'amy' }, T).reply, [{ code: 'class_ended' }], 'only while the class is live');
  r.setClass({ state: 'live', sessionId: 's_1', replay: null });
  t.match(r.handle(3, { t: 'stage_accept' }, T).reply, [{ code: 'forbidden', message: /no invitation/ }], 'a learner who was not invited cannot come up');
  t.same(r.mayPublish('bo'), { video: false, audio: false }, 'nor publish');
  t.match(r.handle(3, { t: 'stage_invite', userId: 'amy' }, T).reply, [{ code: 'forbidden' }], 'a learner cannot invite');
  t.match(r.handle(1, { t: 'stage_invite', userId: 'ghost' }, T).reply, [{ code: 'not_found' }], 'nobody by that id in the class');
  const inv = r.handle(1, { t: 'stage_invite', userId: 'amy' }, T);
  t.match(inv.toUser, [{ userId: 'amy', msg: { v: 1, t: 'stage_invited', by: 'N prof', expiresAt: T + INVITE_MS } }], 'the invited learner is told');
  t.match(inv.staffEvents, [{ t: 'stage_invites', pending: [{ userId: 'amy' }] }], 'the staff see the invitation');
  t.same(inv.events, [], 'the class sees nothing yet');
  const up = r.handle(2, { t: 'stage_accept' }, T + 5000);
  t.match(up.events, [{ t: 'stage', members: [{ userId: 'amy', role: 'learner', since: T + 5000, muted: false }] }], 'everyone sees amy on stage');
  t.match(up.persist, [{ op: 'stage', userId: 'amy', sessionId: 's_1', joinedAt: T + 5000, leftAt: null }]);
  t.same(r.mayPublish('amy'), { video: true, audio: true });
  t.match(r.handle(2, { t: 'stage_accept' }, T + 6000).reply, [{ code: 'forbidden' }], 'an invitation is used once');
  t.match(r.handle(1, { t: 'stage_mute', userId: 'amy', muted: true }, T + 7000).events, [{ t: 'stage', members: [{ userId: 'amy', muted: true }] }]);
  t.same(r.mayPublish('amy'), { video: true, audio: false }, 'muted: no audio');
  t.match(r.handle(4, { t: 'stage_join' }, T + 8000).events, [{ t: 'stage', members: [{ userId: 'amy' }, { userId: 'mod' }] }], 'a moderator steps up by themself');
  t.match(r.handle(1, { t: 'stage_join' }, T + 8000).reply, [{ code: 'rate_limited', message: /at most 2/ }], 'the stage is full (stage.maxMembers)');
  t.match(r.handle(2, { t: 'stage_invite', userId: 'bo' }, T).reply, [{ code: 'forbidden' }]);
  const removed = r.handle(1, { t: 'stage_remove', userId: 'amy' }, T + 65000);
  t.match(removed.toUser, [{ userId: 'amy', msg: { t: 'stage_removed', reason: 'removed' } }], 'amy is told');
  t.match(removed.persist, [{ op: 'stage', userId: 'amy', joinedAt: T + 5000, leftAt: T + 65000 }], 'her spell is closed');
  t.same(r.mayPublish('amy'), { video: false, audio: false }, 'and she may publish no more');
  t.match(r.handle(4, { t: 'stage_leave' }, T + 70000).events, [{ t: 'stage', members: [] }], 'the moderator leaves');
  t.match(r.handle(4, { t: 'stage_remove', userId: 'prof' }, T).reply, [{ code: 'forbidden', message: /instructor/ }], 'a moderator cannot take the instructor off stage');
});

t.test('expiry, decline, leaving the class, the end of the class', async (t) => {
  const r = room(6);
  r.join(member(1, 'prof', 'instructor'));
  r.join(member(2, 'amy', 'learner'));
  r.join(member(3, 'bo', 'learner'));
  r.join(member(5, 'vic', 'viewer'));
  r.setClass({ state: 'live', sessionId: 's_1', replay: null });
  t.match(r.handle(1, { t: 'stage_invite', userId: 'vic' }, T).reply, [{ code: 'forbidden', message: /viewer/ }], 'a viewer is not brought up');
  r.handle(1, { t: 'stage_invite', userId: 'amy' }, T);
  t.match(r.handle(2, { t: 'stage_accept' }, T + INVITE_MS + 1).reply, [{ code: 'forbidden', message: /expired/ }], 'an invitation lasts a minute');
  r.handle(1, { t: 'stage_invite', userId: 'bo' }, T);
  t.match(r.handle(3, { t: 'stage_decline' }, T + 100).staffEvents, [{ t: 'stage_invites', pending: [] }], 'declined: the staff see it gone');
  r.handle(1, { t: 'stage_invite', userId: 'amy' }, T + 200);
  r.handle(2, { t: 'stage_accept' }, T + 300);
  const gone = r.leave(2);
  t.match(gone.events, [{ t: 'stage', members: [] }], 'closing her last tab takes her off stage');
  t.match(gone.persist, [{ op: 'stage', userId: 'amy', leftAt: Number }]);
  r.join(member(6, 'amy', 'learner'));
  r.handle(1, { t: 'stage_invite', userId: 'amy' }, T + 400);
  r.handle(6, { t: 'stage_accept' }, T + 500);
  t.match(r.join(member(7, 'late', 'learner')), { room: { stage: [{ userId: 'amy' }] } }, 'a late joiner sees who is on stage');
  const end = r.setClass({ state: 'ended', sessionId: 's_1', replay: null });
  t.match(end.persist.filter((p) => p.op === 'stage'), [{ userId: 'amy', leftAt: Number }], 'the class ends: spells close');
  t.same(r.mayPublish('amy'), { video: false, audio: false });
});

t.test('the stage alone and the report\'s summary', async (t) => {
  const s = new Stage(1);
  t.match(s.invite('P', undefined, T), { ok: false, code: 'not_found' });
  t.match(s.join({ userId: 'a', name: 'A', role: 'instructor' }, T), { ok: true });
  t.match(s.join({ userId: 'a', name: 'A', role: 'instructor' }, T), { ok: true, change: {} }, 'stepping up twice changes nothing');
  t.match(s.invite('P', { userId: 'b', name: 'B' }, T), { ok: false, code: 'rate_limited' });
  t.same(stageSummary([
    { userId: 'amy', name: 'Amy', joinedAt: 0, leftAt: 90_000 }, { userId: 'bo', name: 'Bo', joinedAt: 10_000, leftAt: null },
    { userId: 'amy', name: 'Amy', joinedAt: 100_000, leftAt: 130_000 },
  ], 70_000), [{ userId: 'amy', name: 'Amy', seconds: 120, minutes: 2, spells: 2 }, { userId: 'bo', name: 'Bo', seconds: 60, minutes: 1, spells: 1 }]);
});
