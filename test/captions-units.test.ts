// Captions, pure parts: the WebVTT segments and playlists, the rung timeline they follow, the first PTS of a real
// MPEG-TS segment (checked against ffprobe), the hub's rules for caption lines, and the channel settings.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { firstVideoPts } from '../src/media/ts-pts.js';
import { parseTimeline } from '../src/captions/timeline.js';
import { subtitlePlaylist, transcriptText, transcriptVtt, vttSegment, vttTime } from '../src/captions/vtt.js';
import { cueDurationMs, languageName, parseCaptionLanguages, parseCaptionMode, type CaptionCue } from '../src/domain/captions.js';
import { parseClientMessage } from '../src/hub/protocol.js';
import { Room, type Member } from '../src/hub/room.js';
import { masterPlaylist } from '../src/hls/master.js';
import { testdir } from './helpers/testdir.js';

const T0 = Date.parse('2026-12-05T10:00:00.000Z');
const cue = (id: string, start: number, end: number, text: string, lang = 'en'): CaptionCue => ({ id, start: T0 + start, end: T0 + end, text, lang, by: 'cap' });

t.test('vtt times and one segment mapped to its video PTS', async (t) => {
  t.equal(vttTime(0), '00:00:00.000');
  t.equal(vttTime(3725.5), '01:02:05.500');
  t.equal(vttTime(-3), '00:00:00.000', 'never negative');
  const seg = { seq: 7, pdt: T0 + 2000, duration: 2, pts: 900000, discontinuity: false };
  const text = vttSegment(seg, [cue('c1', 0, 2500, 'before, still on'), cue('c2', 3000, 4500, 'a < b --> c'), cue('c3', 4000, 5000, 'after'), cue('c5', 1000, 1500, 'gone')]);
  const lines = text.split('\n');
  t.equal(lines[0], 'WEBVTT');
  t.equal(lines[1], 'X-TIMESTAMP-MAP=MPEGTS:900000,LOCAL:01:00:00.000', 'local one hour is the segment\'s first PTS');
  t.match(text, /c1\n00:59:58\.000 --> 01:00:00\.500\nbefore, still on/, 'a line begun in the segment before is repeated, its time kept');
  t.match(text, /c2\n01:00:01\.000 --> 01:00:02\.500\na &lt; b --&gt; c/, 'cue text cannot inject tags or a timing line');
  t.notMatch(text, /after|gone/, 'lines outside the segment are not in it');
  t.equal(vttSegment({ ...seg, pts: 2 ** 33 + 5 }, []).split('\n')[1], 'X-TIMESTAMP-MAP=MPEGTS:5,LOCAL:01:00:00.000', 'the 33-bit PTS wraps');
});

t.test('the subtitle playlist mirrors the rung: sequence, dates, discontinuities, end', async (t) => {
  const e = (seq: number, disc = false) => ({ seq, uri: `s_${seq}.vtt`, pdt: T0 + seq * 2000, duration: 2, pts: 0, discontinuity: disc });
  const live = subtitlePlaylist([e(5), e(6), e(7, true)], { targetDuration: 2, discontinuitySequence: 1, ended: false, event: false });
  t.match(live, /#EXT-X-MEDIA-SEQUENCE:5\n/);
  t.match(live, /#EXT-X-DISCONTINUITY-SEQUENCE:1\n/);
  t.match(live, /#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2026-12-05T10:00:14.000Z\n#EXTINF:2.000000,\ns_7.vtt/);
  t.notMatch(live, /ENDLIST|PLAYLIST-TYPE/);
  const vod = subtitlePlaylist([e(0), e(1)], { targetDuration: 2, discontinuitySequence: 0, ended: true, event: true });
  t.match(vod, /#EXT-X-PLAYLIST-TYPE:EVENT\n/);
  t.match(vod, /#EXT-X-ENDLIST\n$/);
  t.match(subtitlePlaylist([], { targetDuration: 1, discontinuitySequence: 0, ended: false, event: false }), /#EXT-X-MEDIA-SEQUENCE:0\n$/, 'empty until the first segment');
});

t.test('the rung timeline as ffmpeg writes it', async (t) => {
  const tl = parseTimeline(['#EXTM3U', '#EXT-X-VERSION:3', '#EXT-X-TARGETDURATION:2', '#EXT-X-MEDIA-SEQUENCE:4', '#EXT-X-DISCONTINUITY-SEQUENCE:1',
    '#EXT-X-PROGRAM-DATE-TIME:2026-12-05T10:00:00.000+0000', '#EXTINF:2.000000,', 's_00004.ts', '#EXTINF:1.500000,', 's_00005.ts',
    '#EXT-X-DISCONTINUITY', '#EXT-X-PROGRAM-DATE-TIME:2026-12-05T10:00:09.000+0000', '#EXTINF:2.000000,', 's_00006.ts', ''].join('\n'));
  t.same(tl.segments.map((s) => [s.seq, s.uri, s.pdt - T0, s.duration, s.discontinuity]), [
    [4, 's_00004.ts', 0, 2, false], [5, 's_00005.ts', 2000, 1.5, false], [6, 's_00006.ts', 9000, 2, true],
  ], 'a segment without its own date follows the one before');
  t.equal(tl.discontinuitySequence, 1);
  t.equal(tl.targetDuration, 2);
  t.equal(tl.ended, false);
  t.same(parseTimeline('garbage\n#EXTINF:x,\nfile.ts').segments, [], 'nothing usable: no segments, no throw');
});

t.test('the first video PTS of a real MPEG-TS segment, as ffprobe reads it', async (t) => {
  const dir = testdir(t);
  const file = join(dir, 'seg.ts');
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=30', '-f', 'lavfi', '-i', 'sine',
    '-t', '1', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', '-output_ts_offset', '1234.5', '-f', 'mpegts', file]);
  const probe = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts', '-read_intervals', '%+#1', '-of', 'json', file]).toString());
  const pts = firstVideoPts(readFileSync(file));
  t.equal(pts, Number(probe.packets[0].pts), `the first video PTS (${pts})`);
  t.equal(firstVideoPts(Buffer.alloc(1000, 0x47)), undefined, 'no PES: none');
  t.equal(firstVideoPts(Buffer.from('not a transport stream')), undefined);
  t.equal(firstVideoPts(readFileSync(file).subarray(3)), pts, 'found after lost sync');
});

t.test('transcripts: VTT and plain text from the recording start', async (t) => {
  const cues = [cue('b', 65000, 67000, 'second\nline'), cue('a', 1000, 3000, 'first')];
  t.equal(transcriptText(cues, T0), '[00:00:01] first\n[00:01:05] second line\n');
  t.match(transcriptVtt(cues, T0), /^WEBVTT\n\na\n00:00:01\.000 --> 00:00:03\.000\nfirst\n\nb\n00:01:05\.000 --> 00:01:07\.000\nsecond\nline\n/);
  t.equal(transcriptText([], T0), '');
});

t.test('the master lists a SUBTITLES rendition per language, the first the default', async (t) => {
  const m = masterPlaylist([{ uri: '360p/index.m3u8', bandwidth: 900000, averageBandwidth: 800000, width: 640, height: 360, frameRate: 30, videoCodec: 'avc1.64001e' }],
    undefined, undefined, [{ uri: 'captions-en/index.m3u8', language: 'en', name: 'English' }, { uri: 'captions-es/index.m3u8', language: 'es', name: 'Spanish' }]);
  t.match(m, /#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",DEFAULT=YES,AUTOSELECT=YES,FORCED=NO,LANGUAGE="en",URI="captions-en\/index.m3u8"/);
  t.match(m, /NAME="Spanish",DEFAULT=NO/);
  t.match(m, /#EXT-X-STREAM-INF:.*SUBTITLES="subs"/);
  t.notMatch(masterPlaylist([{ uri: 'a', bandwidth: 1, averageBandwidth: 1, width: 2, height: 2, frameRate: 30, videoCodec: 'avc1.64001e' }]), /SUBTITLES/, 'none without captions');
});

t.test('channel settings and cue length', async (t) => {
  t.equal(parseCaptionMode('human'), 'human');
  t.equal(parseCaptionMode('auto'), 'auto');
  t.throws(() => parseCaptionMode('on'), /expected one of off, human, auto/);
  t.same(parseCaptionLanguages('en, es,en'), ['en', 'es']);
  t.throws(() => parseCaptionLanguages('english'), /language tags/);
  t.throws(() => parseCaptionLanguages('en,es,fr,de,it'), /1-4/);
  t.equal(languageName('pt-BR'), 'Portuguese (BR)');
  t.equal(languageName('xx'), 'xx');
  t.equal(cueDurationMs('hi'), 1500);
  t.equal(cueDurationMs('one two three four five six seven eight'), 4040);
  t.equal(cueDurationMs('word '.repeat(40)), 7000);
});

let n = 0;
const newRoom = () => new Room('c', { chatMaxLength: 500, chatBurst: 5, chatWindowMs: 10000, historySize: 3, presenceEveryMs: 2000, newId: () => `id${++n}` });
const member = (connId: number, userId: string, role: Member['role']): Member => ({ connId, userId, name: userId, role, guest: false });

t.test('caption lines in the hub: parsed strictly, sent by a captioner or staff, only while a captioned class is live', async (t) => {
  const p = (s: string) => parseClientMessage(s, { chatMaxLength: 500 });
  t.match(p('{"v":1,"t":"caption","text":" two\\nlines ","start":1764928800000}'), { ok: true, msg: { t: 'caption', text: 'two\nlines', start: 1764928800000 } });
  t.match(p('{"v":1,"t":"caption","text":"x","start":"now"}'), { ok: false, code: 'invalid' });
  t.match(p('{"v":1,"t":"caption","text":"x","start":1.5}'), { ok: false, code: 'invalid' });
  t.match(p('{"v":1,"t":"caption","text":"bell\\u0007","start":1}'), { ok: false, code: 'invalid' });
  t.match(p(JSON.stringify({ v: 1, t: 'caption', text: 'x'.repeat(201), start: 1 })), { ok: false, code: 'invalid' });
  t.match(p('{"v":1,"t":"caption","text":"x","start":1,"lang":"<script>"}'), { ok: false, code: 'invalid' });

  const now = T0;
  const r = newRoom();
  r.join(member(1, 'teach', 'instructor'));
  r.join(member(2, 'cap', 'captioner'));
  r.join(member(3, 'amy', 'learner'));
  t.equal(r.presence, 1, 'a captioner is not counted as watching');
  const line = (conn: number, extra: object = {}) => r.handle(conn, { t: 'caption', text: 'hello class', start: now - 3000, ...extra }, now);
  t.match(line(2).reply, [{ code: 'class_ended' }], 'not before the class is live');
  r.setClass({ state: 'live', sessionId: 's_1', replay: null, captions: [] });
  t.match(line(2).reply, [{ code: 'forbidden', message: /not captioned/ }], 'not on a channel without captions');
  r.setClass({ state: 'live', sessionId: 's_1', replay: null, captions: ['en', 'es'] });
  t.match(line(3).reply, [{ code: 'forbidden' }], 'a learner cannot send captions');
  const ok = line(2);
  t.same(ok.reply, []);
  t.match(ok.events, [{ t: 'caption', cue: { text: 'hello class', start: now - 3000, end: now - 3000 + cueDurationMs('hello class'), lang: 'en', by: 'cap' } }]);
  t.match(ok.persist, [{ op: 'caption', sessionId: 's_1' }]);
  t.match(line(1, { lang: 'es' }).events, [{ cue: { lang: 'es', by: 'teach' } }], 'the instructor may caption, in the class\'s other language');
  t.match(line(2, { lang: 'fr' }).reply, [{ code: 'invalid', message: /en, es/ }]);
  t.match(line(2, { start: now - 10 * 60000 }).reply, [{ code: 'invalid', message: /program time/ }], 'a time far from now is refused');
  t.match(r.handle(2, { t: 'chat', text: 'hi' }, now).reply, [{ code: 'forbidden', message: /captions only/ }], 'a captioner does not chat');
  const welcome = r.join(member(4, 'late', 'learner'));
  t.match(welcome, { t: 'welcome', room: { captions: [{ text: 'hello class' }, { lang: 'es' }] } }, 'a late joiner gets the lines on screen');
  for (let i = 0; i < 9; i++) t.same(line(2).reply, [], `line ${i + 2} of 10`);
  t.match(line(2).reply, [{ code: 'rate_limited' }], 'bounded: 10 lines per 10 s');
  r.setClass({ state: 'live', sessionId: 's_2', replay: null, captions: ['en'] });
  t.notOk((r.join(member(5, 'next', 'learner')) as { room: { captions?: unknown } }).room.captions, 'a new class starts without the last one\'s lines');
});

t.test('speech engines: pocketsphinx\'s words, the engine protocol, lines, the audio clock', async (t) => {
  const { PocketsphinxParser, parseEngineLine, phraseLines, SampleClock, engineCommand } = await import('../src/captions/engine.js');
  const { decoderArgs } = await import('../src/captions/speech.js');
  // pocketsphinx_continuous -time yes, as Debian's 0.8+5prealpha prints it (the hypothesis line first).
  const out = ['the low class', '<s> 4.150 4.230 0.999800', 'the 4.240 4.370 0.239868', '<sil> 4.380 4.400 0.99', 'low(2) 4.380 4.580 0.042691',
    '[NOISE] 4.6 4.7 0.1', 'class 4.590 5.060 0.028088', '</s> 5.070 5.590 1.000000', '<s> 6.000 6.100 0.9', '</s> 6.100 6.900 1.0'];
  const p = new PocketsphinxParser();
  const phrases = out.map((l) => p.push(l)).filter(Boolean);
  t.same(phrases, [{ text: 'the low class', start: 4.24, end: 5.06, words: [{ word: 'the', start: 4.24, end: 4.37 }, { word: 'low', start: 4.38, end: 4.58 }, { word: 'class', start: 4.59, end: 5.06 }] }],
    'one phrase per utterance, fillers out, alternates named plainly, an empty utterance says nothing');
  t.same(parseEngineLine('{"text":"  hello   class ","start":1.5,"end":2.25}'), { text: 'hello class', start: 1.5, end: 2.25 });
  t.equal(parseEngineLine('{"text":"x","start":3,"end":2}'), undefined, 'an end before its start');
  t.equal(parseEngineLine('{"text":"","start":1,"end":2}'), undefined);
  t.equal(parseEngineLine('loading model...'), undefined, 'other output is ignored');
  t.equal(parseEngineLine('{"text":"x","start":"1","end":2}'), undefined);
  t.same(parseEngineLine('{"text":"a b","start":0,"end":1,"words":[{"word":"a","start":0,"end":0.4},{"bad":1}]}')!.words, [{ word: 'a', start: 0, end: 0.4 }], 'bad words left out');
  const words = 'one two three four five six seven eight nine ten'.split(' ').map((w, i) => ({ word: w, start: i, end: i + 0.8 }));
  t.same(phraseLines({ text: words.map((w) => w.word).join(' '), start: 0, end: 9.8, words }, 20), [
    { text: 'one two three four', start: 0, end: 3.8 }, { text: 'five six seven eight', start: 4, end: 7.8 }, { text: 'nine ten', start: 8, end: 9.8 },
  ], 'a long phrase is cut between words (at most 20 characters here), each line timed by its words');
  t.same(phraseLines({ text: 'short', start: 1, end: 2 }), [{ text: 'short', start: 1, end: 2 }]);
  const clock = new SampleClock();
  clock.decoded(32000, 10_000); // 1 s of audio out of the decoder at t=10 s: it began at 9 s
  clock.wrote(32000);
  clock.decoded(96000, 10_200); // a burst (the class's held start): media time counts, not arrival
  clock.wrote(96000);
  t.equal(clock.at(0), 9_000, 'the first sample: a second before the end of its chunk');
  t.equal(clock.at(1.5), 10_500);
  t.equal(clock.at(4), 13_000, 'later samples by their position, however fast they came');
  clock.decoded(32000, 10_300); // dropped: the engine was busy
  clock.engineStarted(); // a new engine run hears from the next sample
  clock.decoded(32000, 10_400);
  clock.wrote(32000);
  t.equal(clock.at(0), 14_000, 'a restarted engine\'s second 0 is where it began hearing');
  clock.reset();
  clock.decoded(16000, 20_000);
  clock.wrote(16000);
  t.equal(clock.at(0.25), 19_750, 'a new run, a new anchor');
  t.same(engineCommand({ engine: 'pocketsphinx', command: '', pocketsphinxModel: '' }), { cmd: 'pocketsphinx_continuous', args: ['-infile', '{audio}', '-time', 'yes', '-logfn', '/dev/null'], output: 'pocketsphinx', audioPath: true });
  t.same(engineCommand({ engine: 'command', command: ' nc asr.school.lan  7000 ', pocketsphinxModel: '' }), { cmd: 'nc', args: ['asr.school.lan', '7000'], output: 'json' });
  t.throws(() => engineCommand({ engine: 'command', command: ' ', pocketsphinxModel: '' }), /engineCommand is empty/);
  t.same(decoderArgs('mkv'), ['-hide_banner', '-loglevel', 'error', '-f', 'matroska', '-i', 'pipe:0', '-vn', '-sn', '-ac', '1', '-ar', '16000', '-f', 's16le', 'pipe:1'], 'golden: the decoder of a browser class');
  t.equal(decoderArgs('flv')[4], 'flv');
});

t.test('the speech engine\'s lines in the hub', async (t) => {
  const r = newRoom();
  r.join(member(1, 'teach', 'instructor'));
  r.join(member(2, 'amy', 'learner'));
  const c = { start: T0, end: T0 + 2000, text: 'hello class', lang: 'en', by: 'speech' };
  t.same(r.systemCaption('s_1', c).events, [], 'no class, no line');
  r.setClass({ state: 'live', sessionId: 's_1', replay: null, captions: ['en'] });
  t.match(r.systemCaption('s_1', c), { events: [{ t: 'caption', cue: { text: 'hello class', by: 'speech' } }], persist: [{ op: 'caption', sessionId: 's_1' }] });
  t.same(r.systemCaption('s_0', c).events, [], 'a line of an earlier class is dropped');
  t.same(r.systemCaption('s_1', { ...c, lang: 'fr' }).events, [], 'not a language of the class');
  const st = r.captionsStatus(false, 'captions stopped: the speech engine exited with code 1; restarting in 1 s');
  t.same(st.events, [], 'learners are not told');
  t.match(st.staffEvents, [{ t: 'captions_status', running: false }], 'the staff are');
  t.match(r.join(member(3, 'prof2', 'instructor')), { room: { speech: { running: false } } }, 'an instructor joining late sees the engine\'s state');
  t.notOk((r.join(member(4, 'bo', 'learner')) as { room: { speech?: unknown } }).room.speech, 'a learner does not');
});

t.test('the master playlist waits out a first segment that cannot be probed yet', async (t) => {
  const { writeMasterWhenReady } = await import('../src/hls/master-writer.js');
  const { mkdirSync, writeFileSync: write, readFileSync: read } = await import('node:fs');
  const dir = testdir(t);
  for (const v of ['360p', 'audio']) {
    mkdirSync(join(dir, v));
    write(join(dir, v, 'index.m3u8'), '#EXTM3U\n');
    for (const i of [0, 1, 2]) write(join(dir, v, `s_${i}.ts`), Buffer.alloc(1000 + i));
  }
  const plan = { rungs: [{ name: '360p', width: 640, height: 360, fps: 30, videoKbps: 800, copy: false }], segmentSeconds: 1, audio: 'aac', audioKbps: 96, dropped: [], encode: {} } as never;
  const probed: string[] = [];
  const ok = await writeMasterWhenReady(dir, plan, {
    over: () => false, timeoutMs: 5000,
    probe: async (path) => {
      probed.push(path.slice(dir.length + 1));
      // The audio's first segment is a few hundred bytes of a quiet start: ffprobe fails on it once.
      if (path.endsWith(join('audio', 's_0.ts'))) throw new Error('ffprobe exited with code 1');
      return path.includes('audio') ? [{ kind: 'audio', codec: 'aac', profile: 'LC' }] as never : [{ kind: 'video', codec: 'h264', profile: 'High', level: 30, width: 640, height: 360 }] as never;
    },
  });
  t.equal(ok, true, 'written');
  t.same(probed.filter((p) => p.startsWith('audio')), ['audio/s_0.ts', 'audio/s_1.ts'], 'the next segment was probed instead');
  t.match(read(join(dir, 'master.m3u8'), 'utf8'), /#EXT-X-MEDIA:TYPE=AUDIO/);
  const failing = await writeMasterWhenReady(dir, plan, { over: () => false, timeoutMs: 600, probe: async () => { throw new Error('ffprobe exited with code 1'); } }).then(() => 'written', (e: Error) => e.message);
  t.equal(failing, 'ffprobe exited with code 1', 'a segment that never probes still fails at the deadline');
});

t.test('the class report\'s captions line', async (t) => {
  const { captionSummary } = await import('../src/reports/service.js');
  const { captionsText } = await import('../src/web/reports.js').catch(() => ({ captionsText: undefined }));
  const sum = captionSummary([{ lang: 'en', by: 'cap1' }, { lang: 'en', by: 'speech' }, { lang: 'es', by: 'cap2' }, { lang: 'en', by: 'cap1' }]);
  t.same(sum, { lines: 4, languages: ['en', 'es'], fromSpeech: 1, typed: 3, captioners: 2 });
  if (captionsText) t.equal(captionsText(sum), '4 lines in en, es: 3 typed by 2 people, 1 from speech');
});

t.test('doctor says whether channels with --captions auto have their engine', async (t) => {
  const { speechCheck } = await import('../src/cli/doctor.js');
  const base = { 'captions.engine': 'pocketsphinx', 'captions.engineCommand': '', 'captions.pocketsphinxModel': '' } as never;
  t.equal(speechCheck(base, []), undefined, 'no channel needs one: no line');
  t.match(speechCheck(base, ['bio']), { ok: true, required: false, detail: /pocketsphinx_continuous \(weak: .*\); channels with --captions auto: bio/ }, 'found (Debian\'s, here)');
  t.match(speechCheck({ 'captions.engine': 'command', 'captions.engineCommand': '/nonexistent/asr --x', 'captions.pocketsphinxModel': '' } as never, ['bio', 'chem']),
    { ok: false, detail: /\/nonexistent\/asr is not found \(check captions.engineCommand\); channels with --captions auto: bio, chem get no captions from speech/ });
  t.match(speechCheck({ 'captions.engine': 'command', 'captions.engineCommand': '', 'captions.pocketsphinxModel': '' } as never, ['bio']), { ok: false, detail: /engineCommand is empty/ });
});
