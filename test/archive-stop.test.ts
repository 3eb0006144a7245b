// Stopping the archiver (server shutdown) while an upload hangs or waits to retry: stop() returns only once every
// job has recorded where it stands, so the store can close right after; the next run resumes and nothing is lost.

import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '../src/log.js';
import { Archiver } from '../src/mux/archive.js';
import { createMuxApi } from '../src/mux/client.js';
import { openStore } from '../src/store/index.js';
import { startFakeMux } from './helpers/fake-mux.js';
import { waitFor } from './helpers/server.js';
import { testdir } from './helpers/testdir.js';

const CHUNK = 262144;

t.test('stop() waits for a hung chunk and a retry backoff; the job resumes after', async (t) => {
  const dir = testdir(t);
  const fake = await startFakeMux();
  t.teardown(() => fake.close());
  const api = await createMuxApi({ tokenId: 'id', tokenSecret: 'secret', webhookSecret: '', baseUrl: fake.url, playbackPolicy: 'public' });
  const dbFile = join(dir, 'kmk.db');
  const mediaDir = join(dir, 'media');
  const logs: string[] = [];
  const archiver = (store: ReturnType<typeof openStore>) => new Archiver({
    mediaDir, ffmpegPath: 'ffmpeg', chunkBytes: CHUNK, deleteLocal: false, log: createLogger('debug', (l) => logs.push(l)), pollMs: 50, maxPolls: 2,
  }, api, store.mux);

  let store = openStore(dbFile);
  const ch = store.channels.create({ slug: 'arch', title: 'arch', ladder: ['360p'] as never, latency: 'standard', record: true, archive: true, overflow: 'degrade' });
  const session = store.sessions.start(ch.id, true);
  store.sessions.end(session.id, 'publisher left');
  // An already remuxed file, so the test is about the upload alone.
  const file = join(mediaDir, 'vod', session.id, 'archive.mp4');
  mkdirSync(join(mediaDir, 'vod', session.id), { recursive: true });
  const bytes = randomBytes(3 * CHUNK + 1000);
  writeFileSync(file, bytes);
  const sha = createHash('sha256').update(bytes).digest('hex');
  store.mux.createJob(session.id);
  store.mux.updateJob(session.id, { file, size: bytes.length, sha256: sha, bytesSent: 0 });

  // 1. A chunk PUT that Mux never answers.
  fake.stallUploads = true;
  let a = archiver(store);
  let settled = false;
  const run = a.run(session.id).finally(() => { settled = true; });
  await waitFor('a chunk to hang', () => fake.stalled > 0, 20000, 20);
  await a.stop();
  t.ok(settled, 'the running job has finished by the time stop() returns');
  await run;
  t.match(store.mux.job(session.id), { leaseUntil: 0, attempts: 0, status: 'uploading' }, 'lease released; a stop is not a failed attempt');

  // 2. A failed chunk, then a stop during the retry backoff.
  fake.stallUploads = false;
  fake.failUploads = true;
  a = archiver(store);
  settled = false;
  const retrying = a.run(session.id).finally(() => { settled = true; });
  await waitFor('the failed attempt to be recorded', () => store.mux.job(session.id)!.attempts === 1, 20000, 20);
  await a.stop();
  t.ok(settled, 'the backoff is cut short by stop()');
  await retrying;
  t.match(store.mux.job(session.id), { leaseUntil: 0, attempts: 1 });
  store.close(); // nothing writes after this: a late write would throw "database connection is not open"

  // 3. A new run on a reopened store finishes the upload, byte for byte.
  fake.failUploads = false;
  store = openStore(dbFile);
  t.teardown(() => store.close());
  a = archiver(store);
  const done = await a.run(session.id);
  await a.stop();
  t.equal(done.status, 'processing', 'uploaded; waiting for Mux to prepare the asset');
  t.equal(done.bytesSent, bytes.length);
  t.equal(fake.sha256(done.uploadId!), sha, 'the fake holds the whole file');
  t.notOk(logs.some((l) => l.includes('not open')), 'no write after the store closed');
});
