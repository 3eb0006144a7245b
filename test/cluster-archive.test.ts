// The Mux archive on two boxes sharing one PostgreSQL: a recording's upload is the work of the box whose disk holds
// it. Box B is SIGKILLed mid-upload; box A, restarted meanwhile, leaves the job alone (it has no file to send); B
// comes back and finishes the upload from where Mux says it stands, byte for byte; Mux's webhook answered by box A
// marks the asset ready.

import t from 'tap';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pgsql from 'pg';
import { cliJsonAsync } from './helpers/cli.js';
import { boxRunner } from './helpers/boxes.js';
import { startFakeMux } from './helpers/fake-mux.js';
import { postWebhook, signWebhook } from './helpers/mux-webhook.js';
import { startPostgres } from './helpers/postgres.js';
import { freePort, push, waitFor } from './helpers/server.js';
import { testdir } from './helpers/testdir.js';

const WEBHOOK_SECRET = 'cluster-webhook-secret';
const CHUNK = 262144;

t.test('an archive upload belongs to the box holding the recording: B killed mid-upload, A restarted leaves it, B back finishes it', async (t) => {
  const dir = testdir(t);
  const pg = await startPostgres();
  t.teardown(() => pg.destroy());
  const fake = await startFakeMux();
  t.teardown(() => fake.close());
  const url = await pg.database();
  const shared = {
    KMK_STORE_URL: url, KMK_HUB_JOIN_SECRET: 'a-join-secret-the-boxes-share-0123456789', KMK_BIND_ADDRESS: '127.0.0.1', KMK_PUBLIC_HOST: '127.0.0.1',
    KMK_INGEST_RECONNECT_GRACE_SECONDS: '1', KMK_MUX_TOKEN_ID: 'test-id', KMK_MUX_TOKEN_SECRET: 'test-secret-value',
    KMK_MUX_WEBHOOK_SECRET: WEBHOOK_SECRET, KMK_MUX_BASE_URL: fake.url, KMK_MUX_UPLOAD_CHUNK_BYTES: String(CHUNK),
  };
  const box = async (name: string) => {
    const http = await freePort();
    const rtmp = await freePort();
    return { name, http, rtmp, base: `http://127.0.0.1:${http}`, dir: join(dir, name),
      env: { ...shared, KMK_NODE_NAME: name, KMK_HTTP_PORT: String(http), KMK_RTMP_PORT: String(rtmp), KMK_PUBLIC_URL: `http://127.0.0.1:${http}` } };
  };
  const [a, b] = [await box('box-a'), await box('box-b')];
  const ops = join(dir, 'ops');
  mkdirSync(ops);
  const { serve } = boxRunner(t);
  const up = (x: typeof a) => waitFor(`${x.name} up`, async () => (await fetch(`${x.base}/healthz`).catch(() => undefined))?.status === 200, 30000);
  let procA = serve(a);
  let procB = serve(b);
  await Promise.all([up(a), up(b)]);
  const db = new pgsql.Client({ connectionString: url });
  await db.connect();
  t.teardown(() => db.end());
  type Job = { session_id: string; status: string; bytes_sent: number; attempts: number; file: string | null; size: number | null; upload_id: string | null; asset_id: string | null; playback_id: string | null };
  const job = async (): Promise<Job | undefined> => (await db.query<Job>('SELECT session_id, status, bytes_sent::int AS bytes_sent, attempts, file, size::int AS size, upload_id, asset_id, playback_id FROM archive_jobs')).rows[0];

  // A recorded class on box B, archived to Mux; Mux takes two chunks and then stops answering.
  const made = await cliJsonAsync<{ obs: { streamKey: string } }>(ops, ['channel', 'create', 'hist-1', '--public', 'on', '--ladder', '360p', '--record', 'on', '--archive', 'on'], a.env);
  fake.failAfterChunks = 2;
  const pub = push(`rtmp://127.0.0.1:${b.rtmp}/live/${made.obs.streamKey}`, { seconds: 12, size: '640x360' });
  t.teardown(() => pub.kill('SIGKILL'));
  await pub.done;
  const stuck = await waitFor('two chunks sent and the third refused', async () => {
    const j = await job();
    return j && j.bytes_sent === 2 * CHUNK && j.attempts >= 1 ? j : undefined;
  }, 60000);
  t.ok(stuck.size! > 3 * CHUNK, `the MP4 (${stuck.size} bytes) needs several chunks`);
  t.ok(stuck.file!.startsWith(b.dir), 'the file is on box B');
  fake.failUploads = true;
  fake.failAfterChunks = undefined;

  // Box B dies; box A restarts while the job is unfinished: it has no recording, so it does not touch the job.
  procB.kill('SIGKILL');
  procA.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 500));
  fake.failUploads = false; // Mux is back: only a box that wrongly took the job would now send chunks
  const chunksBefore = fake.chunks.length;
  procA = serve(a);
  await up(a);
  await new Promise((r) => setTimeout(r, 4000));
  const left = (await job())!;
  t.equal(fake.chunks.length, chunksBefore, 'box A sends nothing of a recording that is not on its disk');
  t.match(left, { status: stuck.status, bytes_sent: 2 * CHUNK, attempts: stuck.attempts }, 'the job waits for its box');

  // Box B comes back and finishes the upload where Mux says it stands.
  procB = serve(b);
  await up(b);
  const done = await waitFor('the upload finished by box B', async () => {
    const j = await job();
    return j && j.status === 'processing' && j.asset_id ? j : undefined;
  }, 90000); // the lease of an attempt B was making when killed lapses within a minute
  const chunks = fake.chunks.filter((c) => c.upload === done.upload_id);
  t.equal(chunks[0]?.start, 0);
  t.ok(chunks.every((c, i) => i === 0 || c.start === chunks[i - 1]!.end + 1), 'each chunk continues where the last ended: nothing sent twice');
  t.equal(fake.uploads.get(done.upload_id!)?.bytes, statSync(done.file!).size, 'Mux received the whole file');
  t.equal(fake.sha256(done.upload_id!), createHash('sha256').update(readFileSync(done.file!)).digest('hex'), 'byte for byte');

  // Mux's webhook reaches box A (any box answers it): the asset is ready for every box.
  const body = JSON.stringify({ id: 'evt-1', type: 'video.asset.ready', data: { id: done.asset_id, upload_id: done.upload_id, playback_ids: [{ id: 'pb-cluster' }] } });
  t.equal((await postWebhook(a.base, body, signWebhook(body, WEBHOOK_SECRET))).status, 200);
  t.match(await waitFor('the job ready', async () => { const j = await job(); return j?.status === 'ready' ? j : undefined; }, 10000), { playback_id: 'pb-cluster' });
  t.equal(fake.uploads.size, 1, 'one upload for the recording');
});
