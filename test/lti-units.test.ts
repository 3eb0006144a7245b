// Pure parts of the LMS integration, on fixed inputs with hand-computed answers: role mapping, attendance
// arithmetic and scores, class resolution, schedule input, playback tokens, playlist token rewriting, Link headers.

import t from 'tap';
import { hubUserId, mapRoles, readLaunch } from '../src/lti/claims.js';
import { attendanceScore, attendedMs } from '../src/reports/attendance.js';
import { classForNewSession, launchTarget, nextStart } from '../src/classes/resolve.js';
import { parseClassInput } from '../src/classes/schedule.js';
import { checkPlayback, signPlayback } from '../src/auth/playback-token.js';
import { withPlaybackToken } from '../src/hls/playback-token.js';
import { nextLink } from '../src/lti/services.js';
import { planLogin } from '../src/lti/login.js';
import type { ScheduledClass } from '../src/domain/records.js';

const V2 = 'http://purl.imsglobal.org/vocab/lis/v2/';

t.test('LTI roles map to instructor, learner or viewer', async (t) => {
  t.equal(mapRoles([`${V2}membership#Instructor`]), 'instructor');
  t.equal(mapRoles([`${V2}membership/Instructor#TeachingAssistant`]), 'instructor');
  t.equal(mapRoles([`${V2}membership#ContentDeveloper`]), 'instructor');
  t.equal(mapRoles([`${V2}membership#Administrator`]), 'instructor');
  t.equal(mapRoles([`${V2}membership#Learner`]), 'learner');
  t.equal(mapRoles(['Learner']), 'learner', 'short names count');
  t.equal(mapRoles([`${V2}membership#Mentor`]), 'viewer');
  t.equal(mapRoles([]), 'viewer');
  t.equal(mapRoles([`${V2}institution/person#Instructor`, `${V2}membership#Learner`]), 'learner', 'the course role wins over the institution role');
  t.equal(mapRoles([`${V2}system/person#Administrator`]), 'instructor', 'without a course role, an administrator');
});

t.test('hub identities are stable and bounded', async (t) => {
  t.equal(hubUserId(3, 'abc'), 'lti3:abc');
  const long = hubUserId(3, 'x'.repeat(300));
  t.match(long, /^lti3:#[0-9a-f]{40}$/);
  t.equal(long, hubUserId(3, 'x'.repeat(300)));
});

t.test('a launch without a context or a resource link is refused by name', async (t) => {
  const base = {
    iss: 'https://lms', sub: 'u', 'https://purl.imsglobal.org/spec/lti/claim/message_type': 'LtiResourceLinkRequest',
    'https://purl.imsglobal.org/spec/lti/claim/version': '1.3.0', 'https://purl.imsglobal.org/spec/lti/claim/deployment_id': 'd',
    'https://purl.imsglobal.org/spec/lti/claim/roles': [], 'https://purl.imsglobal.org/spec/lti/claim/target_link_uri': 'https://tool/lti/launch',
    'https://purl.imsglobal.org/spec/lti/claim/resource_link': { id: 'r' }, 'https://purl.imsglobal.org/spec/lti/claim/context': { id: 'c' },
  };
  t.match(readLaunch(base), { kind: 'resource', name: 'LMS user', context: { id: 'c', title: 'Course' } });
  t.match(readLaunch({ ...base, 'https://purl.imsglobal.org/spec/lti/claim/resource_link': undefined }), /^resource_link/);
  t.match(readLaunch({ ...base, 'https://purl.imsglobal.org/spec/lti/claim/context': undefined }), /^context/);
  t.match(readLaunch({ ...base, sub: '' }), /^sub/);
  t.match(readLaunch({ ...base, name: 'Eve\u0000\nBad' }), { name: 'Eve  Bad' }, 'control characters leave names');
});

t.test('attended time merges overlapping intervals and clips them to the class', async (t) => {
  const from = 1000;
  const to = 11000;
  t.equal(attendedMs([], from, to), 0, 'never came');
  t.equal(attendedMs([{ joinedAt: 0, leftAt: null }], from, to), 10000, 'joined before, still there at the end');
  t.equal(attendedMs([{ joinedAt: 2000, leftAt: 5000 }, { joinedAt: 4000, leftAt: 6000 }], from, to), 4000, 'two devices overlap: counted once');
  t.equal(attendedMs([{ joinedAt: 2000, leftAt: 3000 }, { joinedAt: 3000, leftAt: 4000 }], from, to), 2000, 'a reconnect that touches');
  t.equal(attendedMs([{ joinedAt: 2000, leftAt: 3000 }, { joinedAt: 8000, leftAt: 20000 }], from, to), 4000, 'a gap, then past the end');
  t.equal(attendedMs([{ joinedAt: 12000, leftAt: 13000 }], from, to), 0, 'only after the class');
  t.equal(attendedMs([{ joinedAt: 5000, leftAt: 4000 }], from, to), 0, 'a broken interval counts nothing');
});

t.test('attendance scores in each mode', async (t) => {
  const min = 60000;
  t.same(attendanceScore('percent', 45 * min, 60 * min, 50), { scoreGiven: 75, scoreMaximum: 100, comment: 'Attended 45 of 60 min (75%).' });
  t.same(attendanceScore('minutes', 45 * min, 60 * min, 50), { scoreGiven: 45, scoreMaximum: 60, comment: 'Attended 45 of 60 min (75%).' });
  t.match(attendanceScore('presence', 29 * min, 60 * min, 50), { scoreGiven: 0, scoreMaximum: 1, comment: /^Absent/ });
  t.match(attendanceScore('presence', 30 * min, 60 * min, 50), { scoreGiven: 1, comment: /^Present/ });
  t.match(attendanceScore('percent', 0, 0, 50), { scoreGiven: 0, scoreMaximum: 100 }, 'a zero-length class');
  t.same(attendanceScore('percent', 39000, 55000, 50), { scoreGiven: 70.9, scoreMaximum: 100, comment: 'Attended 39 s of 55 s (70.9%).' }, 'under two minutes: seconds, not "1 of 1 min"');
  t.equal(attendanceScore('percent', 119400, 119900, 50).comment, 'Attended 119 s of 120 s (99.6%).');
  t.equal(attendanceScore('percent', 89 * 1000, 150 * 1000, 50).comment, 'Attended 1.5 of 2.5 min (59.3%).', 'under ten minutes: tenths of a minute');
});

const k = (id: number, startsAt: number, minutes: number, sessionId: string | null = null, status: 'scheduled' | 'cancelled' = 'scheduled'): ScheduledClass => ({
  id, courseId: 1, channelId: 1, channel: 'c', title: `k${id}`, startsAt, minutes, record: true, archive: false, status, sessionId, lineItemUrl: null, passbackAt: null, confirmed: true,
});

t.test('a launch opens the class now, else the next, else the last', async (t) => {
  const now = 10 * 3600_000;
  const past = k(1, now - 3 * 3600_000, 60, 's_0000000000000001');
  const next = k(2, now + 3600_000, 60);
  const cancelled = k(3, now + 600_000, 60, null, 'cancelled');
  t.match(launchTarget([past, next, cancelled], now, null), { kind: 'next', cls: { id: 2 } });
  t.match(launchTarget([past], now, null), { kind: 'last', cls: { id: 1 } });
  t.match(launchTarget([past, k(4, now - 600_000, 60)], now, null), { kind: 'now', cls: { id: 4 } }, 'within its slot');
  t.match(launchTarget([past, k(5, now - 600_000, 60, 's_0000000000000005')], now, 's_0000000000000005'), { kind: 'now', cls: { id: 5 } }, 'live');
  t.same(launchTarget([], now, null), { kind: 'none' });
  t.equal(nextStart([past, next, cancelled], now), new Date(now + 3600_000).toISOString());
  t.match(classForNewSession([next, k(6, now + 20 * 60_000, 30)], now), { id: 6 }, 'going live 20 min early counts as that class');
  t.equal(classForNewSession([next], now), undefined, 'an hour early does not');
});

t.test('class input is checked with clear messages', async (t) => {
  const now = Date.parse('2026-11-25T09:00:00Z');
  const d = { record: true, archive: false };
  t.same(parseClassInput({ title: ' Fractions ', startsAt: '2026-12-01T09:00:00Z', minutes: 45 }, d, now),
    { title: 'Fractions', startsAt: Date.parse('2026-12-01T09:00:00Z'), minutes: 45, record: true, archive: false });
  t.match(parseClassInput({ title: 'x', startsAt: '2026-12-01T10:00', tzOffsetMinutes: '-60', minutes: '30', record: 'off' }, d, now),
    { startsAt: Date.parse('2026-12-01T09:00:00Z'), minutes: 30, record: false }, 'a local time with the browser\'s offset');
  t.match(parseClassInput({ title: '', startsAt: '2026-12-01T09:00:00Z', minutes: 45 }, d, now), /^title/);
  t.match(parseClassInput({ title: 'x', startsAt: 'tomorrow', minutes: 45 }, d, now), /^startsAt/);
  t.match(parseClassInput({ title: 'x', startsAt: '2026-12-01T09:00:00', minutes: 45 }, d, now), /^startsAt/, 'no zone');
  t.match(parseClassInput({ title: 'x', startsAt: '2020-12-01T09:00:00Z', minutes: 45 }, d, now), /past/);
  t.match(parseClassInput({ title: 'x', startsAt: '2026-12-01T09:00:00Z', minutes: 4 }, d, now), /^minutes/);
  t.match(parseClassInput({ title: 'x', startsAt: '2026-12-01T09:00:00Z', minutes: 45, record: 'maybe' }, d, now), /^record/);
});

t.test('playback tokens are bound to one scope and expire', async (t) => {
  const secret = Buffer.alloc(32, 7);
  const tok = signPlayback('c:math-101', 2000, secret);
  t.equal(checkPlayback(tok, ['c:math-101'], secret, 1000), 'ok');
  t.equal(checkPlayback(tok, ['c:bio-200'], secret, 1000), 'wrong_scope');
  t.equal(checkPlayback(tok, ['c:math-101'], secret, 2000), 'expired');
  t.equal(checkPlayback(tok, ['c:math-101'], Buffer.alloc(32, 8), 1000), 'bad_signature');
  t.equal(checkPlayback(undefined, ['c:math-101'], secret, 1000), 'missing');
  t.equal(checkPlayback('a.b.c', ['c:math-101'], secret, 1000), 'malformed');
  const [p, s] = tok.split('.');
  const forged = Buffer.from(JSON.stringify({ s: 'c:math-101', e: 9e9 })).toString('base64url');
  t.equal(checkPlayback(`${forged}.${s}`, ['c:math-101'], secret, 1000), 'bad_signature', 'a longer expiry with the old signature');
  void p;
  const a = signPlayback('c:math-101', 2000, secret, 'lti1:ada');
  const b = signPlayback('c:math-101', 2000, secret, 'lti1:bob');
  t.not(a, b, 'each viewer\'s token differs');
  t.equal(checkPlayback(b, ['c:math-101'], secret, 1000), 'ok');
  t.notMatch(Buffer.from(a.split('.')[0]!, 'base64url').toString(), 'ada', 'the viewer is hashed, not carried');
});

t.test('playlists pass the playback token on to every relative URI', async (t) => {
  const master = '#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",URI="audio/index.m3u8"\n#EXT-X-STREAM-INF:BANDWIDTH=1\n720p/index.m3u8\n';
  t.equal(withPlaybackToken(master, 'T.k'), '#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",URI="audio/index.m3u8?pt=T.k"\n#EXT-X-STREAM-INF:BANDWIDTH=1\n720p/index.m3u8?pt=T.k\n');
  const media = '#EXTM3U\n#EXT-X-MAP:URI="init.mp4"\n#EXTINF:2.0,\nseg_1.ts\n#EXTINF:2.0,\nhttps://cdn.example/seg_2.ts\n#EXTINF:2.0,\nseg_3.ts?x=1\n';
  t.equal(withPlaybackToken(media, 'a b'), '#EXTM3U\n#EXT-X-MAP:URI="init.mp4?pt=a%20b"\n#EXTINF:2.0,\nseg_1.ts?pt=a%20b\n#EXTINF:2.0,\nhttps://cdn.example/seg_2.ts\n#EXTINF:2.0,\nseg_3.ts?x=1&pt=a%20b\n');
});

t.test('NRPS paging follows rel="next" only', async (t) => {
  t.equal(nextLink('<https://lms/m?page=2>; rel="next", <https://lms/m?page=9>; rel="last"', 'https://lms/m'), 'https://lms/m?page=2');
  t.equal(nextLink('</m?page=3>; rel=next', 'https://lms/m?page=2'), 'https://lms/m?page=3', 'relative links resolve');
  t.equal(nextLink('<https://lms/m?page=9>; rel="last"', 'https://lms/m'), null);
  t.equal(nextLink(null, 'https://lms/m'), null);
});

t.test('a login with several registrations on one issuer must name its client id', async (t) => {
  const p = (id: number, clientId: string) => ({ id, issuer: 'https://lms', clientId, authUrl: 'https://lms/auth', tokenUrl: 'https://lms/token', jwksUrl: 'https://lms/jwks', deploymentIds: ['d'], createdAt: '' });
  const base = { iss: 'https://lms', login_hint: 'h', target_link_uri: 'https://tool.example/lti/launch' };
  t.match(planLogin(base, [p(1, 'a'), p(2, 'b')], 'https://tool.example', 's', 'n'), { ok: false, check: 'client_id' });
  t.match(planLogin({ ...base, client_id: 'b' }, [p(1, 'a'), p(2, 'b')], 'https://tool.example', 's', 'n'), { ok: true, platform: { id: 2 } });
  t.match(planLogin({ ...base, target_link_uri: 'https://tool.example.evil/lti/launch' }, [p(1, 'a')], 'https://tool.example', 's', 'n'), { ok: false, check: 'target_link_uri' });
});

t.test('the playback gate looks a name up once per few seconds and checks the token every time', async (t) => {
  const { PlaybackGate } = await import('../src/hls/access.js');
  const secret = Buffer.alloc(32, 9);
  let lookups = 0;
  const channels: Record<string, { public: boolean }> = { open: { public: true }, closed: { public: false } };
  const gate = new PlaybackGate({ owner: (_k, name) => { lookups += 1; return channels[name]; } }, secret, { ttlMs: 5000, maxEntries: 100 });
  t.equal(gate.check('hls', 'open', undefined, 1000), true, 'public: no token needed');
  t.equal(gate.check('hls', 'nobody', undefined, 1000), 'unknown', 'a name that belongs to nothing is not found, never public');
  t.match(gate.check('hls', 'closed', undefined, 1000), /private.*missing/);
  const tok = signPlayback('c:closed', 100, secret);
  t.equal(gate.check('hls', 'closed', tok, 1000), true);
  t.match(gate.check('hls', 'closed', signPlayback('c:open', 100, secret), 1000), /wrong_scope/);
  for (let i = 0; i < 100; i++) gate.check('hls', 'closed', tok, 2000 + i);
  t.equal(lookups, 3, 'three names, one lookup each within the window');
  channels.closed = { public: true };
  gate.check('hls', 'closed', undefined, 7000);
  t.equal(lookups, 4, 'looked up again once the window passed');
  t.equal(gate.check('hls', 'closed', undefined, 7001), true, 'and the new setting applies');
});
