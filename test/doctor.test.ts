import t from 'tap';
import { createServer } from 'node:net';
import { cli } from './helpers/cli.js';
import { testdir } from './helpers/testdir.js';

interface Report { ok: boolean; checks: { name: string; ok: boolean; required: boolean; detail: string }[] }

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

t.test('doctor passes on a migrated box with free ports and says Mux is optional', async (t) => {
  const dir = testdir(t);
  const env = { KMK_BIND_ADDRESS: '127.0.0.1', KMK_HTTP_PORT: String(await freePort()), KMK_RTMP_PORT: String(await freePort()) };
  t.equal(cli(dir, ['db', 'migrate'], env).code, 0);
  const r = cli(dir, ['doctor', '--json'], env);
  t.equal(r.code, 0, r.stdout);
  const report = JSON.parse(r.stdout) as Report;
  t.equal(report.ok, true);
  t.same(report.checks.map((c) => c.name), ['ffmpeg', 'ffprobe', 'data folder', 'media folder', 'media space', 'database', 'http port', 'rtmp port', 'mux', 'metrics']);
  t.match(report.checks.find((c) => c.name === 'metrics'), { ok: true, detail: /answers only this box.*metrics\.token/ }, 'doctor says /metrics is loopback-only');
  const tokened = JSON.parse(cli(dir, ['doctor', '--json'], { ...env, KMK_METRICS_TOKEN: 'x'.repeat(20), KMK_METRICS_LISTEN: '127.0.0.1:9464' }).stdout) as Report;
  t.match(tokened.checks.find((c) => c.name === 'metrics'), { detail: /needs the bearer token.*also at 127\.0\.0\.1:9464/ });
  const ffmpeg = report.checks.find((c) => c.name === 'ffmpeg');
  t.match(ffmpeg?.detail, /\((system|npm)\).*libx264 yes, aac yes/);
  const mux = report.checks.find((c) => c.name === 'mux');
  t.match(mux, { ok: true, required: false, detail: /no credentials/ });
  t.match(report.checks.find((c) => c.name === 'media space'), { ok: true, detail: /^\d+ MB free, floor 1024 MB \(paths.minFreeMegabytes\)$/ });
  const human = cli(dir, ['doctor'], env);
  t.match(human.stdout, /^ok {4}ffmpeg/m);
  t.match(human.stdout, 'All required checks passed.');
  const full = cli(dir, ['doctor'], { ...env, KMK_PATHS_MIN_FREE_MEGABYTES: '10000000' });
  t.equal(full.code, 1, 'a media disk below its floor fails the check');
  t.match(full.stdout, /^FAIL  media space +\d+ MB free, floor 10000000 MB .*new classes would be refused/m);
});

t.test('doctor fails when the database is not migrated, a port is taken or ffmpeg is missing', async (t) => {
  const dir = testdir(t, { 'not-ffmpeg': 'plain file' });
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  t.teardown(() => busy.close());
  const env = {
    KMK_BIND_ADDRESS: '127.0.0.1',
    KMK_HTTP_PORT: String((busy.address() as { port: number }).port),
    KMK_RTMP_PORT: String(await freePort()),
    KMK_TRANSCODE_FFMPEG_PATH: './not-ffmpeg',
    MUX_TOKEN_ID: 'id', MUX_TOKEN_SECRET: 'secret',
  };
  const r = cli(dir, ['doctor'], env);
  t.equal(r.code, 1);
  t.match(r.stdout, /^FAIL  ffmpeg .*not-ffmpeg is not an executable file/m);
  t.match(r.stdout, /^FAIL  database .*does not exist yet; run: kmk-live db migrate/m);
  t.match(r.stdout, /^FAIL  http port .*in use/m);
  t.match(r.stdout, /^ok {4}rtmp port/m);
  t.match(r.stdout, /^ok {4}mux .*credentials present/m);
  t.match(r.stdout, '3 required check(s) failed.');
  const again = cli(dir, ['doctor', '--json'], { ...env, KMK_TRANSCODE_FFMPEG_PATH: '' });
  t.equal(again.code, 1, 'still failing: database and port');
  const j = (JSON.parse(again.stdout) as Report).checks;
  t.equal(j.find((c) => c.name === 'ffmpeg')?.ok, true, 'without the bad path, ffmpeg is found');
});

t.test('doctor warns when an ultra (LL-HLS) channel is served without HTTPS', async (t) => {
  const dir = testdir(t);
  const env = { KMK_BIND_ADDRESS: '127.0.0.1', KMK_HTTP_PORT: String(await freePort()), KMK_RTMP_PORT: String(await freePort()) };
  t.equal(cli(dir, ['channel', 'create', 'calm', '--latency', 'low'], env).code, 0);
  t.notMatch(cli(dir, ['doctor'], env).stdout, /ll-hls/, 'no LL-HLS channel, no check');
  t.equal(cli(dir, ['channel', 'create', 'fast', '--latency', 'ultra'], env).code, 0);
  const plain = cli(dir, ['doctor'], env);
  t.equal(plain.code, 0, 'a warning, not a failure');
  t.match(plain.stdout, /^warn  ll-hls https +channel\(s\) fast use latency ultra \(Low-Latency HLS\) but publicUrl is not set: Apple devices play LL-HLS only over HTTPS/m);
  t.match(plain.stdout, 'docs/ll-hls.md');
  const http = cli(dir, ['doctor'], { ...env, KMK_PUBLIC_URL: 'http://live.school.example' });
  t.match(http.stdout, /publicUrl is not HTTPS \(http:\/\/live\.school\.example\)/);
  const tls = JSON.parse(cli(dir, ['doctor', '--json'], { ...env, KMK_PUBLIC_URL: 'https://live.school.example' }).stdout) as Report;
  t.match(tls.checks.find((c) => c.name === 'll-hls https'), { ok: true, required: false, detail: '1 ultra channel(s) served at https://live.school.example' });
});

t.test('with an LMS registered, doctor warns when the LMS cannot call the box (private address, port other than 443)', async (t) => {
  const dir = testdir(t);
  const env = { KMK_BIND_ADDRESS: '127.0.0.1', KMK_HTTP_PORT: String(await freePort()), KMK_RTMP_PORT: String(await freePort()) };
  t.equal(cli(dir, ['db', 'migrate'], env).code, 0);
  t.notMatch(cli(dir, ['doctor'], env).stdout, /lms reach/, 'no LMS registered, no check');
  t.equal(cli(dir, ['lti', 'platform', 'add', '--issuer', 'https://moodle.school.example', '--client-id', 'c1', '--auth-url', 'https://moodle.school.example/mod/lti/auth.php',
    '--token-url', 'https://moodle.school.example/mod/lti/token.php', '--jwks-url', 'https://moodle.school.example/mod/lti/certs.php', '--deployment-id', '1'], env).code, 0);
  const lan = cli(dir, ['doctor'], { ...env, KMK_PUBLIC_URL: 'http://192.168.1.20:8080' });
  t.equal(lan.code, 0, 'a warning, not a failure');
  t.match(lan.stdout, /^warn  lms reach +publicUrl http:\/\/192\.168\.1\.20:8080: 192\.168\.1\.20 is a private address, port 8080 is not 443, it is not HTTPS\. Moodle refuses/m);
  t.match(lan.stdout, /cURL blocked hosts list.*cURL allowed ports list/);
  t.match(cli(dir, ['doctor'], { ...env, KMK_PUBLIC_URL: 'https://live.school.example:8443' }).stdout, /^warn  lms reach .*port 8443 is not 443/m);
  t.match(cli(dir, ['doctor'], { ...env, KMK_PUBLIC_URL: 'https://live.school.example' }).stdout, /^ok {4}lms reach +the LMS reaches the tool at https:\/\/live\.school\.example/m);
  t.match(cli(dir, ['doctor'], env).stdout, /^warn  lms reach +publicUrl http:\/\/localhost:\d+: localhost is a private address/m, 'without publicUrl, what the LMS is given');
});
