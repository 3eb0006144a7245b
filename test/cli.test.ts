import t from 'tap';
import { cli, cliJson } from './helpers/cli.js';
import { testdir } from './helpers/testdir.js';

interface ChannelJson { slug: string; title: string; ladder: string[]; latency: string; record: boolean; archive: boolean; overflow: string }
interface CreatedJson { channel: ChannelJson; streamKey: string; fingerprint: string; obs: { server: string; streamKey: string } }

t.test('channel create prints the OBS server and stream key', async (t) => {
  const dir = testdir(t);
  const r = cli(dir, ['channel', 'create', 'math-101'], { KMK_PUBLIC_HOST: 'live.school.example' });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, 'Server:      rtmp://live.school.example:1935/live');
  t.match(r.stdout, /Stream Key:  [A-Za-z0-9_-]{43}\n/);
  const j = cliJson<CreatedJson>(dir, ['channel', 'create', 'bio-200', '--title', 'Biology', '--latency', 'low', '--record', 'off', '--overflow', 'refuse']);
  t.equal(j.obs.server, 'rtmp://localhost:1935/live');
  t.equal(j.obs.streamKey, j.streamKey);
  t.match(j.channel, { slug: 'bio-200', title: 'Biology', latency: 'low', record: false, archive: false, overflow: 'refuse' });
  t.same(j.channel.ladder, ['1080p', '720p', '480p', '360p', '240p'], 'default ladder (240p for a poor mobile link)');
  t.equal((j.channel as ChannelJson & { profile: string }).profile, 'lecture', 'default encoding profile');
  const lab = cliJson<CreatedJson>(dir, ['channel', 'create', 'chem-lab', '--profile', 'motion'], { KMK_CHANNELS_DEFAULT_PROFILE: 'lecture' });
  t.equal((lab.channel as ChannelJson & { profile: string }).profile, 'motion');
  const byConfig = cliJson<CreatedJson>(dir, ['channel', 'create', 'pe-1'], { KMK_CHANNELS_DEFAULT_PROFILE: 'motion' });
  t.equal((byConfig.channel as ChannelJson & { profile: string }).profile, 'motion', 'channels.defaultProfile applies to new channels');
  t.match(cli(dir, ['channel', 'show', 'chem-lab']).stdout, /profile: +motion/);
  t.match(cliJson(dir, ['channel', 'update', 'chem-lab', '--profile', 'lecture']), { profile: 'lecture' });
});

t.test('channels can be listed, shown, updated and deleted', async (t) => {
  const dir = testdir(t);
  cliJson(dir, ['channel', 'create', 'math-101']);
  cliJson(dir, ['channel', 'create', 'art-1']);
  t.same(cliJson<ChannelJson[]>(dir, ['channel', 'list']).map((c) => c.slug), ['art-1', 'math-101']);
  const human = cli(dir, ['channel', 'list']);
  t.match(human.stdout, /SLUG\s+TITLE/);
  t.match(human.stdout, /math-101/);

  const scheduled = cliJson<ChannelJson & { startsAt: string | null }>(dir, ['channel', 'update', 'art-1', '--starts-at', '2030-01-07T14:30:00+01:00', '--guests', 'on']);
  t.match(scheduled, { startsAt: '2030-01-07T13:30:00.000Z', allowGuests: true });
  t.match(cliJson(dir, ['channel', 'update', 'art-1', '--starts-at', 'none']), { startsAt: null });
  t.equal(cli(dir, ['channel', 'update', 'art-1', '--starts-at', 'tomorrowish']).code, 2);
  const updated = cliJson<ChannelJson>(dir, ['channel', 'update', 'math-101', '--ladder', '480p,720p', '--archive', 'on', '--title', 'Math 101']);
  t.same(updated.ladder, ['720p', '480p'], 'rungs ordered highest first');
  t.equal(updated.archive, true);
  const shown = cliJson<ChannelJson & { obsServer: string; activeKey: { fingerprint: string } }>(dir, ['channel', 'show', 'math-101']);
  t.equal(shown.title, 'Math 101');
  t.match(shown.activeKey.fingerprint, /^[0-9a-f]{8}$/);
  t.equal(shown.obsServer, 'rtmp://localhost:1935/live');

  const refused = cli(dir, ['channel', 'delete', 'math-101']);
  t.equal(refused.code, 2, 'delete wants --yes');
  t.equal(cli(dir, ['channel', 'delete', 'math-101', '--yes']).code, 0);
  const gone = cli(dir, ['channel', 'show', 'math-101']);
  t.equal(gone.code, 2);
  t.equal(gone.stderr.trim(), 'error: no channel "math-101" (see: kmk-live channel list)', 'one clear line');
});

t.test('key rotate, revoke and list', async (t) => {
  const dir = testdir(t);
  const created = cliJson<CreatedJson>(dir, ['channel', 'create', 'math-101']);
  const rotated = cliJson<{ streamKey: string; fingerprint: string }>(dir, ['key', 'rotate', 'math-101']);
  t.not(rotated.streamKey, created.streamKey);
  let keys = cliJson<{ fingerprint: string; active: boolean }[]>(dir, ['key', 'list', 'math-101']);
  t.same(keys.map((k) => [k.fingerprint, k.active]), [[rotated.fingerprint, true], [created.fingerprint, false]]);
  t.notMatch(JSON.stringify(keys), rotated.streamKey, 'list never shows a key');
  const r = cli(dir, ['key', 'revoke', 'math-101']);
  t.equal(r.code, 0);
  keys = cliJson(dir, ['key', 'list', 'math-101']);
  t.equal(keys.filter((k) => k.active).length, 0);
  const show = cli(dir, ['channel', 'show', 'math-101']);
  t.match(show.stdout, /stream key:\s+none/);
});

t.test('API tokens can be created, listed and revoked', async (t) => {
  const dir = testdir(t);
  const created = cliJson<{ token: string; name: string; scopes: string[]; fingerprint: string }>(dir,
    ['token', 'create', 'lms', '--scopes', 'tokens:join,channels:read']);
  t.match(created.token, /^kmk_[A-Za-z0-9_-]{43}$/);
  t.same(created.scopes, ['channels:read', 'tokens:join']);
  const list = cliJson<{ name: string }[]>(dir, ['token', 'list']);
  t.same(list.map((x) => x.name), ['lms']);
  t.notMatch(JSON.stringify(list), created.token);
  t.equal(cli(dir, ['token', 'revoke', 'lms']).code, 0);
  t.same(cliJson(dir, ['token', 'list']), []);
  t.equal(cliJson<unknown[]>(dir, ['token', 'list', '--all']).length, 1);
  const again = cli(dir, ['token', 'revoke', 'lms']);
  t.equal(again.code, 2);
  t.match(again.stderr, 'no active token "lms"');
});

t.test('wrong arguments exit 2 with a message', async (t) => {
  const dir = testdir(t);
  cliJson(dir, ['channel', 'create', 'math-101']);
  const cases: [string[], RegExp][] = [
    [['channel', 'create', 'Math 101'], /invalid channel slug/],
    [['channel', 'create', '-x-'], /unknown option|invalid channel slug/],
    [['channel', 'create', 'math-101'], /already exists/],
    [['channel', 'create', 'x', '--ladder', '4k'], /invalid ladder "4k"/],
    [['channel', 'create', 'x', '--latency', 'instant'], /invalid latency profile "instant": expected one of standard, low, ultra/],
    [['channel', 'create', 'x', '--overflow', 'drop'], /invalid overflow policy/],
    [['channel', 'create', 'x', '--profile', 'sport'], /invalid encoding profile "sport": expected one of lecture, motion/],
    [['channel', 'create', 'x', '--record', 'maybe'], /invalid record setting "maybe": expected on or off/],
    [['channel', 'update', 'math-101'], /nothing to update/],
    [['channel', 'show'], /missing required argument 'slug'/],
    [['channel', 'frobnicate'], /unknown command/],
    [['key', 'rotate', 'nope'], /no channel "nope"/],
    [['token', 'create', 'x'], /required option '--scopes <list>' not specified/],
    [['token', 'create', 'x', '--scopes', 'root'], /invalid scope "root"/],
    [['token', 'create', 'bad name', '--scopes', 'admin'], /invalid token name/],
    [['db', 'backup'], /missing required argument 'file'/],
    [['--bogus'], /unknown option '--bogus'/],
  ];
  for (const [args, message] of cases) {
    const r = cli(dir, args);
    t.equal(r.code, 2, `kmk-live ${args.join(' ')} exits 2`);
    t.match(r.stderr, message, `kmk-live ${args.join(' ')} says why`);
  }
});

t.test('an invalid config stops every command with exit 2 and names the key', async (t) => {
  const dir = testdir(t, { 'bad.json': JSON.stringify({ rtmp: { port: 99999 } }) });
  const r = cli(dir, ['--config', 'bad.json', 'channel', 'list']);
  t.equal(r.code, 2);
  t.match(r.stderr, 'rtmp.port = 99999');
  const env = cli(dir, ['channel', 'list'], { KMK_HTTP_PORT: 'x' });
  t.equal(env.code, 2);
  t.match(env.stderr, 'KMK_HTTP_PORT');
});

t.test('config print shows the effective config with secrets redacted', async (t) => {
  const dir = testdir(t, { 'site.json': JSON.stringify({ http: { port: 9000 }, mux: { tokenSecret: 'file-secret-value' } }) });
  const j = cliJson<{ http: { port: number }; rtmp: { port: number }; mux: { tokenSecret: string } }>(dir,
    ['--config', 'site.json', 'config', 'print'], { KMK_RTMP_PORT: '2000' });
  t.equal(j.http.port, 9000);
  t.equal(j.rtmp.port, 2000);
  t.equal(j.mux.tokenSecret, '<redacted>');
  const text = cli(dir, ['config', 'print'], { KMK_CONFIG: 'site.json' });
  t.match(text.stdout, 'http.port = 9000');
  t.notMatch(text.stdout, 'file-secret-value');
});

t.test('every command has --help with an example', async (t) => {
  const commands = [
    ['channel', 'create'], ['channel', 'list'], ['channel', 'show'], ['channel', 'update'], ['channel', 'delete'],
    ['key', 'rotate'], ['key', 'revoke'], ['key', 'list'], ['token', 'create'], ['token', 'list'], ['token', 'revoke'],
    ['config', 'print'], ['db', 'migrate'], ['db', 'backup'], ['doctor'], ['token', 'join'], ['serve'], ['status'],
    ['session', 'list'], ['session', 'show'], ['session', 'archive'],
    ['class', 'schedule'], ['class', 'list'], ['class', 'cancel'],
    ['lti', 'platform', 'add'], ['lti', 'platform', 'list'], ['lti', 'platform', 'show'], ['lti', 'platform', 'remove'],
    ['lti', 'platform', 'deployment'], ['lti', 'keys', 'rotate'], ['lti', 'keys', 'list'], ['lti', 'outbox'], ['lti', 'courses'], ['lti', 'roster'], ['session', 'report'], ['report', 'cost'], ['report', 'course'],
  ];
  const dir = testdir(t);
  for (const c of commands) {
    const r = cli(dir, [...c, '--help']);
    t.equal(r.code, 0, `${c.join(' ')} --help exits 0`);
    t.match(r.stdout, new RegExp(`Example:\\n  \\$ kmk-live ${c.join(' ')}`), `${c.join(' ')} --help shows an example`);
  }
});

t.test('db migrate is idempotent and db backup makes a copy that opens', async (t) => {
  const dir = testdir(t);
  t.equal(cli(dir, ['db', 'migrate']).code, 0);
  const again = cliJson<{ applied: number[] }>(dir, ['db', 'migrate']);
  t.same(again.applied, []);
  cliJson(dir, ['channel', 'create', 'math-101']);
  t.equal(cli(dir, ['db', 'backup', 'copy.db']).code, 0);
  const exists = cli(dir, ['db', 'backup', 'copy.db']);
  t.equal(exists.code, 2, 'does not overwrite without --force');
  const list = cliJson<ChannelJson[]>(dir, ['channel', 'list'], { KMK_PATHS_DB: 'copy.db' });
  t.same(list.map((c) => c.slug), ['math-101']);
});
