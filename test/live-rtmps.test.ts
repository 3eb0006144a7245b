import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { freePort, push, startTestServer, waitFor } from './helpers/server.js';
import { testdir } from './helpers/testdir.js';

t.test('with a certificate and key configured, RTMPS publishes work', async (t) => {
  const dir = testdir(t);
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-keyout', key, '-out', cert], { encoding: 'utf8' });
  t.equal(made.status, 0, made.stderr);
  const tlsPort = await freePort();
  const ts = await startTestServer(dir, { KMK_RTMP_TLS_CERT: cert, KMK_RTMP_TLS_KEY: key, KMK_RTMP_TLS_PORT: String(tlsPort) });
  t.teardown(() => ts.server.stop());
  const ch = ts.createChannel('secure', { ladder: ['360p'], record: false });
  const pub = push(`rtmps://127.0.0.1:${tlsPort}/live/${ch.key}`, { seconds: 20, size: '640x360' });
  t.teardown(() => pub.kill('SIGKILL'));
  await waitFor('the class to be live over RTMPS', async () => (await ts.get('/hls/secure/master.m3u8')).status === 200, 30000);
  t.pass('master playlist served for an RTMPS publish');
  const wrong = push(`rtmps://127.0.0.1:${tlsPort}/live/${'C'.repeat(43)}`, { seconds: 5, size: '320x240' });
  t.not(await wrong.done, 0, 'a wrong key is refused over RTMPS too');
});

t.test('a missing certificate file stops the server with a clear error', async (t) => {
  const dir = testdir(t);
  await t.rejects(startTestServer(dir, { KMK_RTMP_TLS_CERT: join(dir, 'nope.pem'), KMK_RTMP_TLS_KEY: join(dir, 'nope.key') }), /cannot read the RTMPS file rtmp.tlsCert = .*nope.pem: no such file/);
});
