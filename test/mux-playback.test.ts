// Replays and signed Mux playback: a session plays from its kept recording, then from its Mux archive once the
// local copy is deleted; with playback policy "signed" every Mux URL carries a fresh RS256 token made with the
// configured URL signing key (the real SDK signs; the test verifies with the public half).

import t from 'tap';
import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startFakeMux } from './helpers/fake-mux.js';
import { postWebhook, signWebhook } from './helpers/mux-webhook.js';
import { push, startTestServer, waitFor } from './helpers/server.js';
import { testdir } from './helpers/testdir.js';

const WEBHOOK_SECRET = 'whsec-playback-'.padEnd(40, 'y');
const fake = await startFakeMux();
t.teardown(() => fake.close());
// Mux shows a signing key's private half as a base64-encoded PKCS#1 PEM.
const { privateKey, publicKey } = generateKeyPairSync('rsa', {
  modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' },
});
const env = (extra: Record<string, string> = {}) => ({
  KMK_MUX_TOKEN_ID: 'test-id', KMK_MUX_TOKEN_SECRET: 'test-secret-value', KMK_MUX_WEBHOOK_SECRET: WEBHOOK_SECRET,
  KMK_MUX_BASE_URL: fake.url, KMK_MUX_UPLOAD_CHUNK_BYTES: '262144', KMK_MUX_PLAYBACK_POLICY: 'signed',
  KMK_MUX_SIGNING_KEY_ID: 'sk-test-1', KMK_MUX_SIGNING_KEY_PRIVATE: Buffer.from(privateKey).toString('base64'),
  KMK_MUX_PLAYBACK_TOKEN_TTL_SECONDS: '600', KMK_MUX_DELETE_LOCAL_AFTER_ARCHIVE: 'true', ...extra,
});

/** Verifies an RS256 JWT with the test's public key and returns its header and claims. */
function readJwt(token: string): { header: Record<string, unknown>; claims: Record<string, unknown>; valid: boolean } {
  const [h, p, sig] = token.split('.');
  const valid = verify('RSA-SHA256', Buffer.from(`${h}.${p}`), createPublicKey(publicKey), Buffer.from(sig ?? '', 'base64url'));
  return { header: JSON.parse(Buffer.from(h!, 'base64url').toString()), claims: JSON.parse(Buffer.from(p!, 'base64url').toString()), valid };
}

t.test('a replay plays the kept recording, then the signed Mux archive once the local copy is deleted', async (t) => {
  const ts = await startTestServer(testdir(t), env());
  t.teardown(() => ts.server.stop());
  const c = ts.createChannel('signed', { ladder: ['360p'], record: true });
  ts.server.store.channels.update('signed', { archive: true });
  await push(ts.rtmp(c.key), { seconds: 6, size: '640x360' }).done;
  const session = await waitFor('the session to end', () => ts.server.store.sessions.list({ channel: 'signed' }).find((s) => s.endedAt), 20000);
  const replay = () => fetch(`${ts.base}/api/sessions/${session.id}/replay`);

  const local = await replay();
  t.equal(local.status, 200);
  t.same(await local.json(), { mode: 'local', url: `/vod/${session.id}/master.m3u8` }, 'the kept recording first');

  const job = await waitFor('the upload to finish', () => {
    const j = ts.server.store.mux.job(session.id);
    return j?.status === 'processing' && j.assetId ? j : undefined;
  }, 60000);
  const event = JSON.stringify({ id: 'evt-signed-1', type: 'video.asset.ready', data: { id: job.assetId, upload_id: job.uploadId, playback_ids: [{ id: 'pb-signed', policy: 'signed' }] } });
  t.equal((await postWebhook(ts.base, event, signWebhook(event, WEBHOOK_SECRET))).status, 200);
  const vod = join(ts.server.config['paths.media'], 'vod', session.id);
  await waitFor('the local copy to be deleted (mux.deleteLocalAfterArchive)', () => !existsSync(vod), 10000);

  const before = Math.floor(Date.now() / 1000);
  const archived = await replay();
  t.equal(archived.status, 200);
  const play = (await archived.json()) as { mode: string; url: string };
  t.equal(play.mode, 'mux');
  const m = /^https:\/\/stream\.mux\.com\/pb-signed\.m3u8\?token=([\w-]+\.[\w-]+\.[\w-]+)$/.exec(play.url);
  t.ok(m, `a Mux URL with a token: ${play.url.slice(0, 60)}…`);
  const jwt = readJwt(m![1]!);
  t.ok(jwt.valid, 'signed with the configured private key');
  t.match(jwt.header, { alg: 'RS256' });
  t.match(jwt.claims, { sub: 'pb-signed', aud: 'v', kid: 'sk-test-1' });
  const exp = jwt.claims.exp as number;
  t.ok(exp >= before + 600 && exp <= before + 605, `expires after mux.playbackTokenTtlSeconds (exp - now = ${exp - before} s)`);

  t.equal((await fetch(`${ts.base}/api/sessions/s_0000000000000000/replay`)).status, 404, 'an unknown session has no replay');
  t.equal((await fetch(`${ts.base}/api/sessions/..%2Fdata/replay`)).status, 404, 'nor does a malformed id');
  t.notOk(ts.logs.some((l) => l.includes(Buffer.from(privateKey).toString('base64').slice(20, 60))), 'the private key is never logged');
});

t.test('signed playback without a usable signing key stops the server at start with a clear message', async (t) => {
  await t.rejects(startTestServer(testdir(t), env({ KMK_MUX_SIGNING_KEY_PRIVATE: Buffer.from('not a key').toString('base64') })),
    /mux\.signingKeyPrivate cannot sign playback tokens/);
});
