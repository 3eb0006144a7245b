// Captions from speech, real parts: a class pushed over RTMP by ffmpeg whose sound is espeak-ng reading a short
// lecture, heard by Debian's pocketsphinx_continuous started with the class; its lines reach a learner over the hub
// and the stream's WebVTT rendition. The engine is killed mid-class: the class goes on, the studio's hub connection
// is told captions stopped, the engine comes back and lines flow again. Then a school's own engine over the engine
// protocol (a small script in test/helpers) on a second server.

import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { signJoinToken } from '../src/auth/join-token.js';
import { loadJoinSecret } from '../src/auth/join-secret.js';
import type { Role } from '../src/domain/roles.js';
import { childrenOf } from './helpers/procs.js';
import { launch } from './helpers/browser.js';
import { liveDir, push, startTestServer, waitFor, type TestServer } from './helpers/server.js';
import { testdir } from './helpers/testdir.js';
import { Client } from './helpers/ws.js';

const dir = testdir(t);
const LECTURE = '<speak>Today we study photosynthesis.<break time="1500ms"/>Plants use light to make sugar.<break time="1500ms"/>'
  + 'The light reactions happen in the thylakoids.<break time="1500ms"/>Water is split and oxygen is released.<break time="2000ms"/></speak>';
const speech = join(dir, 'lecture.wav');
execFileSync('espeak-ng', ['-m', '-v', 'en-us', '-s', '150', '-w', speech, LECTURE]);

async function withServer(env: Record<string, string>, name: string): Promise<{ ts: TestServer; token(sub: string, role: Role): string; key: string }> {
  const ts = await startTestServer(join(dir, name), env);
  const secret = loadJoinSecret('', ts.server.config['paths.data']);
  const { key } = ts.createChannel('bio', { ladder: ['240p'], latency: 'low', captions: ['en'] });
  ts.server.store.channels.update('bio', { captions: 'auto' });
  const token = (sub: string, role: Role): string => signJoinToken({ sub, name: sub, role, channel: 'bio', exp: Math.floor(Date.now() / 1000) + 3600 }, secret);
  return { ts, token, key };
}

const ws = (ts: TestServer, tok: string) => Client.connect(`${ts.base.replace('http', 'ws')}/ws?token=${tok}`);
type Cue = { text: string; start: number; end: number; by: string };
const cues = (c: Client): Cue[] => c.events.filter((e) => e.t === 'caption').map((e) => e.cue as Cue);
const statuses = (c: Client): { running: boolean; message: string }[] => c.events.filter((e) => e.t === 'captions_status') as never;
const engines = (): number[] => childrenOf(process.pid).filter((p) => {
  try {
    return readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith('pocketsphinx_continuous');
  } catch {
    return false;
  }
});

t.test('pocketsphinx hears the class; killed, it comes back', async (t) => {
  const { ts, token, key } = await withServer({}, 'ps');
  t.teardown(() => ts.server.stop());
  const prof = await ws(ts, token('prof', 'instructor'));
  t.teardown(() => prof.close());
  const amy = await ws(ts, token('amy', 'learner'));
  t.teardown(() => amy.close());
  const pub = push(ts.rtmp(key), { size: '426x240', audioFile: speech });
  t.teardown(() => pub.kill('SIGKILL'));
  await waitFor('the class to be live', () => ts.server.live.current('bio')?.state === 'live', 40000);
  const session = ts.server.live.current('bio')!.sessionId;
  await prof.waitFor('the engine to start', () => statuses(prof).find((s) => s.running), 20000);
  t.equal(engines().length, 1, 'one engine for the class');
  const first = await amy.waitFor('a line from speech', () => cues(amy).find((c) => c.by === 'speech'), 40000);
  t.ok(first.text.length > 0, `the learner gets a line heard from the class: "${first.text}"`);
  t.ok(Math.abs(first.start - Date.now()) < 30000, 'timed within the class\'s last seconds');
  t.ok(first.end > first.start);
  t.notOk(statuses(amy).length, 'learners are not told the engine\'s state');

  // The engine dies mid-class, while the instructor has the studio open.
  const b = await launch();
  t.teardown(() => b.close());
  const studio = await b.newPage({ width: 1280, height: 900 });
  await studio.goto(`${ts.base}/studio/bio?token=${token('prof', 'instructor')}`);
  await studio.locator('.caption-engine', { hasText: 'captions from speech are on' }).waitFor({ timeout: 20000 });
  const [pid] = engines();
  process.kill(pid!, 'SIGKILL');
  const stopped = await prof.waitFor('the studio to be told', () => statuses(prof).find((s) => !s.running), 10000);
  await studio.locator('.caption-engine.alert', { hasText: 'captions stopped' }).waitFor({ timeout: 10000 });
  t.pass('the studio\'s Captions card says captions stopped');
  await studio.screenshot({ path: join(dir, 'studio-engine-stopped-1280.png') });
  t.match(stopped.message, /captions stopped: the speech engine was killed \(SIGKILL\); restarting in 1 s/);
  t.equal(ts.server.live.current('bio')?.state, 'live', 'the class goes on');
  const back = await prof.waitFor('the engine to come back', () => statuses(prof).slice(statuses(prof).indexOf(stopped) + 1).find((s) => s.running), 15000);
  t.match(back.message, /captions from speech are on/);
  await studio.locator('.caption-engine:not(.alert)', { hasText: 'captions from speech are on' }).waitFor({ timeout: 10000 });
  t.pass('and that they are back');
  t.not(engines()[0], pid, 'a new engine process');
  const before = cues(amy).length;
  await amy.waitFor('lines again', () => cues(amy).length > before, 40000);
  t.pass('lines flow again after the restart');

  const folder = join(liveDir(ts, 'bio'), 'captions-en');
  const heard = cues(amy).map((c) => c.text);
  const vtt = await waitFor('a subtitle segment with a heard line', () => existsSync(folder) && readdirSync(folder).filter((f) => f.endsWith('.vtt'))
    .map((f) => readFileSync(join(folder, f), 'utf8')).find((text) => heard.some((h) => text.includes(h))), 20000);
  t.match(vtt, /^WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:\d+,LOCAL:01:00:00.000\n/, 'the stream carries them too');
  pub.kill('SIGKILL');
  await waitFor('the class to end', () => ts.server.live.current('bio') === undefined, 30000);
  t.same(engines(), [], 'the engine stops with the class');
  const report = await (await ts.get(`/api/sessions/${session}/report`, { Authorization: `Bearer ${token('prof', 'instructor')}` })).json() as { captions?: { fromSpeech: number; typed: number } };
  t.ok((report.captions?.fromSpeech ?? 0) >= 2 && report.captions?.typed === 0, `the class report counts the lines heard (${report.captions?.fromSpeech})`);
  const transcript = readFileSync(join(ts.server.config['paths.media'], 'vod', session, 'captions-en', 'transcript.txt'), 'utf8');
  t.ok(transcript.split('\n').filter(Boolean).length >= 2, `the transcript holds the heard lines (${transcript.split('\n').filter(Boolean).length})`);
});

t.test('a school\'s own engine over the engine protocol', async (t) => {
  const { ts, token, key } = await withServer({ KMK_CAPTIONS_ENGINE: 'command', KMK_CAPTIONS_ENGINE_COMMAND: `${process.execPath} ${join(import.meta.dirname, 'helpers', 'count-engine.mjs')}` }, 'cmd');
  t.teardown(() => ts.server.stop());
  const amy = await ws(ts, token('amy', 'learner'));
  t.teardown(() => amy.close());
  const pub = push(ts.rtmp(key), { size: '426x240', audioFile: speech });
  t.teardown(() => pub.kill('SIGKILL'));
  await waitFor('the class to be live', () => ts.server.live.current('bio')?.state === 'live', 40000);
  const lines = await amy.waitFor('three lines', () => (cues(amy).length >= 3 ? cues(amy) : undefined), 30000);
  t.match(lines[0]!.text, /^second 2 level (sound|quiet)$/, 'its phrases are the class\'s lines; other output is ignored');
  t.ok(lines.some((l) => /sound/.test(l.text)), 'it hears the class\'s sound');
  const gap = lines[1]!.start - lines[0]!.start;
  t.ok(gap > 1500 && gap < 2500, `timed by the audio, 2 s apart (${gap} ms)`);
  t.ok(lines[0]!.end - lines[0]!.start >= 1500, 'on screen at least as long as it was said');
});

t.test('an engine that cannot run: the class goes on, the studio is told why', async (t) => {
  const { ts, token, key } = await withServer({ KMK_CAPTIONS_ENGINE: 'command', KMK_CAPTIONS_ENGINE_COMMAND: '/nonexistent/asr --port 7000' }, 'bad');
  t.teardown(() => ts.server.stop());
  const prof = await ws(ts, token('prof', 'instructor'));
  t.teardown(() => prof.close());
  const pub = push(ts.rtmp(key), { size: '426x240', seconds: 20 });
  t.teardown(() => pub.kill('SIGKILL'));
  const down = await prof.waitFor('the studio to be told', () => statuses(prof).find((s) => !s.running), 40000);
  t.match(down.message, /the speech engine \/nonexistent\/asr cannot be run \(not found: check captions.engineCommand\)/);
  await waitFor('the class to be live', () => ts.server.live.current('bio')?.state === 'live', 40000);
  t.pass('the class is live without its engine');
});
