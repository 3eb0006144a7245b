// The stage's control over real sockets: a real class (RTMP pushed by ffmpeg), the instructor, two learners and a
// moderator on the hub; invitations, acceptance, refusal of an uninvited learner, mute and removal, the cap; the
// spells stored and the class report saying who was on stage and for how long.
import t from 'tap';
import { signJoinToken } from '../src/auth/join-token.js';
import { loadJoinSecret } from '../src/auth/join-secret.js';
import type { Role } from '../src/domain/roles.js';
import { push, startTestServer, waitFor } from './helpers/server.js';
import { testdir } from './helpers/testdir.js';
import { Client } from './helpers/ws.js';

const dir = testdir(t);
const ts = await startTestServer(dir, { KMK_STAGE_MAX_MEMBERS: '2' });
t.teardown(() => ts.server.stop());
const secret = loadJoinSecret('', ts.server.config['paths.data']);
const token = (sub: string, role: Role): string => signJoinToken({ sub, name: `Name ${sub}`, role, channel: 'bio', exp: Math.floor(Date.now() / 1000) + 3600 }, secret);
const { key } = ts.createChannel('bio', { ladder: ['240p'], latency: 'low' });
const ws = async (sub: string, role: Role): Promise<Client> => {
  const c = await Client.connect(`${ts.base.replace('http', 'ws')}/ws?token=${token(sub, role)}`);
  t.teardown(() => c.close());
  await c.waitFor('welcome', () => c.messages.find((m) => m.t === 'welcome'));
  return c;
};
const stageOf = (c: Client): { userId: string; muted: boolean }[] | undefined => (c.events.filter((e) => e.t === 'stage').at(-1)?.members as never);

t.test('invite, accept, refuse, mute, remove; the report', async (t) => {
  const pub = push(ts.rtmp(key), { size: '426x240' });
  t.teardown(() => pub.kill('SIGKILL'));
  await waitFor('the class', () => ts.server.live.current('bio')?.state === 'live', 40000);
  const session = ts.server.live.current('bio')!.sessionId;
  const prof = await ws('prof', 'instructor');
  const amy = await ws('amy', 'learner');
  const bo = await ws('bo', 'learner');
  const mod = await ws('mod', 'moderator');
  await waitFor('everyone in the live class', () => [prof, amy, bo, mod].every((c) => c.events.some((e) => e.t === 'class' && e.state === 'live')
    || (c.welcome.room as { class: { state: string } }).class.state === 'live'), 10000);

  bo.send({ t: 'stage_accept' });
  await bo.waitFor('the refusal', () => bo.errors('forbidden')[0]);
  t.match(bo.errors('forbidden')[0], { message: /no invitation/ }, 'an uninvited learner is refused by the server');
  prof.send({ t: 'stage_invite', userId: 'amy' });
  const invited = await amy.waitFor('the invitation', () => amy.messages.find((m) => m.t === 'stage_invited'));
  t.match(invited, { by: 'Name prof' });
  t.ok((invited.expiresAt as number) > Date.now() + 50000, 'valid about a minute');
  await mod.waitFor('staff see it', () => mod.events.find((e) => e.t === 'stage_invites' && (e.pending as unknown[]).length === 1));
  t.notOk(bo.events.some((e) => e.t === 'stage_invites'), 'learners do not see invitations');
  amy.send({ t: 'stage_accept' });
  await bo.waitFor('amy on stage', () => stageOf(bo)?.some((m) => m.userId === 'amy'));
  t.pass('everyone sees amy come on stage');
  mod.send({ t: 'stage_join' });
  await bo.waitFor('mod on stage', () => stageOf(bo)?.length === 2);
  prof.send({ t: 'stage_join' });
  await prof.waitFor('the cap', () => prof.errors('rate_limited')[0]);
  t.match(prof.errors('rate_limited')[0], { message: /at most 2 people \(stage.maxMembers\)/ }, 'stage.maxMembers holds');
  prof.send({ t: 'stage_mute', userId: 'amy', muted: true });
  await bo.waitFor('amy muted', () => stageOf(bo)?.find((m) => m.userId === 'amy')?.muted === true);
  await new Promise((r) => setTimeout(r, 1500));
  prof.send({ t: 'stage_remove', userId: 'amy' });
  await amy.waitFor('amy told', () => amy.messages.find((m) => m.t === 'stage_removed'));
  await bo.waitFor('amy gone', () => stageOf(bo)?.length === 1);
  t.pass('removed: amy is told, everyone sees it');
  pub.kill('SIGKILL');
  await waitFor('the class to end', () => ts.server.live.current('bio') === undefined, 30000);
  await bo.waitFor('the stage empties with the class', () => stageOf(bo)?.length === 0);
  const report = await waitFor('the report with the stage', async () => {
    const r = await (await ts.get(`/api/sessions/${session}/report`, { Authorization: `Bearer ${token('prof', 'instructor')}` })).json() as { stage?: { userId: string; seconds: number; spells: number }[] };
    return r.stage?.length === 2 && r.stage.every((s) => s.seconds > 0) ? r : undefined;
  }, 10000);
  t.match(report.stage, [{ userId: 'amy', name: 'Name amy', spells: 1 }, { userId: 'mod', spells: 1 }], 'the class report lists who was on stage');
  t.ok(report.stage![0]!.seconds >= 1, `and for how long (amy ${report.stage![0]!.seconds} s, on stage from acceptance to removal)`);
});
