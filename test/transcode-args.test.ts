// Golden tests: the whole ffmpeg argument list for each profile. A flag change shows up as a diff here.
import t from 'tap';
import { ffmpegArgs, stagePipes } from '../src/transcode/args.js';
import { planLadder, withStageAudio, withStagePicture } from '../src/transcode/ladder.js';
import { llFfmpegArgs, llStageFd } from '../src/transcode/ll-args.js';
import { encodeQuality } from '../src/transcode/quality.js';

const common = ['-hide_banner', '-loglevel', 'warning', '-nostats', '-progress', 'pipe:1', '-stats_period', '1',
  '-fflags', '+genpts', '-analyzeduration', '1000000', '-f', 'flv', '-i', 'pipe:0'];
// The default (lecture) profile: x264's stillimage tuning, CRF 26, the rung's rate as the cap.
const x264 = (i: number, kbps: number, gop: string, keys: string) => [
  `-c:v:${i}`, 'libx264', `-preset:v:${i}`, 'veryfast', `-profile:v:${i}`, 'high', `-tune:v:${i}`, 'stillimage', `-crf:v:${i}`, '26',
  `-maxrate:v:${i}`, `${kbps}k`, `-bufsize:v:${i}`, `${kbps * 2}k`, `-g:v:${i}`, gop, `-keyint_min:v:${i}`, gop,
  `-sc_threshold:v:${i}`, '0', `-force_key_frames:v:${i}`, keys,
];

t.test('standard latency, 720p H.264/AAC source with unaligned keyframes: three encoded rungs, audio re-encoded at 96 kbit/s (lecture)', async (t) => {
  const plan = planLadder({ videoCodec: 'h264', width: 1280, height: 720, fps: 30, audioCodec: 'aac' },
    { profile: ['1080p', '720p', '480p', '360p'], segmentSeconds: 2 });
  t.same(ffmpegArgs(plan, { outDir: '/m/live/math', record: false, resume: false, preset: 'veryfast', liveWindow: 6, segmentPrefix: 's_x' }), [
    ...common,
    '-filter_complex', '[0:v:0]split=3[s0][s1][s2];[s0]scale=1280:720,setsar=1[v0];[s1]scale=854:480,setsar=1[v1];[s2]scale=640:360,setsar=1[v2]',
    '-map', '[v0]', ...x264(0, 2800, '60', 'expr:gte(t,n_forced*2)'),
    '-map', '[v1]', ...x264(1, 1400, '60', 'expr:gte(t,n_forced*2)'),
    '-map', '[v2]', ...x264(2, 800, '60', 'expr:gte(t,n_forced*2)'),
    '-map', '0:a:0', '-c:a:0', 'aac', '-b:a:0', '96k', '-ac:a:0', '2', '-ar:a:0', '48000', // lecture: speech at 96 kbit/s
    '-map', '0:a:0', '-c:a:1', 'aac', '-b:a:1', '64k', '-ac:a:1', '2', '-ar:a:1', '48000', // the audio-only rendition
    '-f', 'hls', '-hls_time', '2', '-hls_list_size', '6', '-hls_flags', 'independent_segments+program_date_time+delete_segments',
    '-hls_segment_type', 'mpegts', '-hls_segment_filename', '/m/live/math/%v/s_x_%05d.ts',
    '-var_stream_map', 'v:0,agroup:aud,name:720p v:1,agroup:aud,name:480p v:2,agroup:aud,name:360p a:0,agroup:aud,name:audio a:1,name:audio-only',
    '/m/live/math/%v/index.m3u8',
  ]);
});

t.test('aligned 2 s keyframes: the top rung is copied and the others follow the source keyframes', async (t) => {
  const plan = planLadder({ videoCodec: 'h264', width: 1280, height: 720, fps: 30, audioCodec: 'aac', keyframeInterval: 2, videoKbps: 3000 },
    { profile: ['720p', '480p'], segmentSeconds: 2 });
  t.same(ffmpegArgs(plan, { outDir: '/m/live/math', record: true, resume: false, preset: 'veryfast', liveWindow: 6, segmentPrefix: 's_y' }), [
    ...common,
    '-filter_complex', '[0:v:0]split=1[s1];[s1]scale=854:480,setsar=1[v1]',
    '-map', '0:v:0', '-c:v:0', 'copy',
    '-map', '[v1]', ...x264(1, 1400, '60', 'source'),
    '-map', '0:a:0', '-c:a:0', 'aac', '-b:a:0', '96k', '-ac:a:0', '2', '-ar:a:0', '48000', // lecture: speech at 96 kbit/s
    '-map', '0:a:0', '-c:a:1', 'aac', '-b:a:1', '64k', '-ac:a:1', '2', '-ar:a:1', '48000', // the audio-only rendition
    '-f', 'hls', '-hls_time', '2', '-hls_list_size', '0', '-hls_playlist_type', 'event', '-hls_flags', 'independent_segments+program_date_time',
    '-hls_segment_type', 'mpegts', '-hls_segment_filename', '/m/live/math/%v/s_y_%05d.ts',
    '-var_stream_map', 'v:0,agroup:aud,name:720p v:1,agroup:aud,name:480p a:0,agroup:aud,name:audio a:1,name:audio-only',
    '/m/live/math/%v/index.m3u8',
  ]);
});

t.test('low latency 1080p source with MP3 audio, resumed after a restart: 1 s GOPs, audio encoded once', async (t) => {
  const plan = planLadder({ videoCodec: 'h264', width: 1920, height: 1080, fps: 25, audioCodec: 'other', keyframeInterval: 2 },
    { profile: ['1080p', '360p'], segmentSeconds: 1 });
  t.same(ffmpegArgs(plan, { outDir: '/m/live/bio', record: false, resume: true, preset: 'faster', liveWindow: 6, segmentPrefix: 's_z' }), [
    ...common,
    '-filter_complex', '[0:v:0]split=2[s0][s1];[s0]scale=1920:1080,setsar=1[v0];[s1]scale=640:360,setsar=1[v1]',
    '-map', '[v0]', ...x264(0, 5000, '25', 'expr:gte(t,n_forced*1)').map((a) => (a === 'veryfast' ? 'faster' : a)),
    '-map', '[v1]', ...x264(1, 800, '25', 'expr:gte(t,n_forced*1)').map((a) => (a === 'veryfast' ? 'faster' : a)),
    '-map', '0:a:0', '-c:a:0', 'aac', '-b:a:0', '96k', '-ac:a:0', '2', '-ar:a:0', '48000',
    '-map', '0:a:0', '-c:a:1', 'aac', '-b:a:1', '64k', '-ac:a:1', '2', '-ar:a:1', '48000', // the audio-only rendition
    '-f', 'hls', '-hls_time', '1', '-hls_list_size', '6',
    '-hls_flags', 'independent_segments+program_date_time+delete_segments+append_list+discont_start',
    '-hls_segment_type', 'mpegts', '-hls_segment_filename', '/m/live/bio/%v/s_z_%05d.ts',
    '-var_stream_map', 'v:0,agroup:aud,name:1080p v:1,agroup:aud,name:360p a:0,agroup:aud,name:audio a:1,name:audio-only',
    '/m/live/bio/%v/index.m3u8',
  ]);
});

t.test('a source without audio gets no audio mapping or rendition', async (t) => {
  const plan = planLadder({ videoCodec: 'h264', width: 640, height: 360, fps: 30, audioCodec: 'none' }, { profile: ['360p'], segmentSeconds: 2 });
  const args = ffmpegArgs(plan, { outDir: '/o', record: false, resume: false, preset: 'veryfast', liveWindow: 6, segmentPrefix: 'p' });
  t.notOk(args.includes('0:a:0'));
  t.equal(args[args.indexOf('-var_stream_map') + 1], 'v:0,agroup:aud,name:360p');
});

t.test('the Mux relay copies the stream as is', async (t) => {
  const { relayArgs } = await import('../src/mux/relay.js');
  t.same(relayArgs('rtmps://ingest.example/app/KEY'), ['-hide_banner', '-loglevel', 'warning', '-nostats', '-fflags', '+genpts',
    '-f', 'flv', '-i', 'pipe:0', '-map', '0', '-c', 'copy', '-f', 'flv', 'rtmps://ingest.example/app/KEY']);
});

t.test('the archive remux copies the top variant and the audio into one MP4', async (t) => {
  const { remuxArgs } = await import('../src/mux/archive.js');
  t.same(remuxArgs({ video: '/v/720p/index.m3u8', audio: '/v/audio/index.m3u8' }, '/v/archive.mp4'), ['-hide_banner', '-loglevel', 'error', '-y',
    '-i', '/v/720p/index.m3u8', '-i', '/v/audio/index.m3u8', '-map', '0:v:0', '-map', '1:a:0', '-c', 'copy', '-bsf:a', 'aac_adtstoasc',
    '-movflags', '+faststart', '/v/archive.mp4']);
  t.same(remuxArgs({ video: '/v/360p/index.m3u8' }, '/o.mp4').slice(4, 10), ['-i', '/v/360p/index.m3u8', '-map', '0:v:0', '-map', '0:a:0?']);
});

t.test('a 10-bit 4:4:4 source with aligned keyframes: nothing copied, every rung converted to 8-bit 4:2:0', async (t) => {
  const plan = planLadder({ videoCodec: 'h264', width: 1280, height: 720, fps: 30, audioCodec: 'aac', keyframeInterval: 2, videoKbps: 3000, videoProfile: 244 },
    { profile: ['720p', '480p'], segmentSeconds: 2 });
  t.equal(plan.convert, true);
  t.same(ffmpegArgs(plan, { outDir: '/m/live/math', record: false, resume: false, preset: 'veryfast', liveWindow: 6, segmentPrefix: 's_z' }), [
    ...common,
    '-filter_complex', '[0:v:0]split=2[s0][s1];[s0]scale=1280:720,setsar=1,format=yuv420p[v0];[s1]scale=854:480,setsar=1,format=yuv420p[v1]',
    '-map', '[v0]', ...x264(0, 2800, '60', 'expr:gte(t,n_forced*2)'),
    '-map', '[v1]', ...x264(1, 1400, '60', 'expr:gte(t,n_forced*2)'),
    '-map', '0:a:0', '-c:a:0', 'aac', '-b:a:0', '96k', '-ac:a:0', '2', '-ar:a:0', '48000', // lecture: speech at 96 kbit/s
    '-map', '0:a:0', '-c:a:1', 'aac', '-b:a:1', '64k', '-ac:a:1', '2', '-ar:a:1', '48000', // the audio-only rendition
    '-f', 'hls', '-hls_time', '2', '-hls_list_size', '6', '-hls_flags', 'independent_segments+program_date_time+delete_segments',
    '-hls_segment_type', 'mpegts', '-hls_segment_filename', '/m/live/math/%v/s_z_%05d.ts',
    '-var_stream_map', 'v:0,agroup:aud,name:720p v:1,agroup:aud,name:480p a:0,agroup:aud,name:audio a:1,name:audio-only',
    '/m/live/math/%v/index.m3u8',
  ]);
  const high = planLadder({ videoCodec: 'h264', width: 1280, height: 720, fps: 30, audioCodec: 'aac', keyframeInterval: 2, videoProfile: 100 },
    { profile: ['720p'], segmentSeconds: 2 });
  t.equal(high.rungs[0]?.copy, true, 'an 8-bit High source is still passed through');
  t.notOk(high.convert);
});

t.test('the motion profile: x264 defaults at its own CRF; configured CRFs reach every rung', async (t) => {
  const plan = planLadder({ videoCodec: 'h264', width: 1280, height: 720, fps: 30, audioCodec: 'aac' },
    { profile: ['720p', '360p'], segmentSeconds: 2, encode: encodeQuality('motion', { lecture: 28, motion: 21.5 }) });
  const args = ffmpegArgs(plan, { outDir: '/o', record: false, resume: false, preset: 'veryfast', liveWindow: 6, segmentPrefix: 'p' });
  t.same(args.slice(args.indexOf('-map'), args.indexOf('-map', args.indexOf('-map') + 1)), ['-map', '[v0]',
    '-c:v:0', 'libx264', '-preset:v:0', 'veryfast', '-profile:v:0', 'high', '-crf:v:0', '21.5', '-maxrate:v:0', '2800k', '-bufsize:v:0', '5600k',
    '-g:v:0', '60', '-keyint_min:v:0', '60', '-sc_threshold:v:0', '0', '-force_key_frames:v:0', 'expr:gte(t,n_forced*2)']);
  t.notOk(args.some((a) => a.startsWith('-tune')), 'no psy tuning for motion');
  t.equal(args[args.indexOf('-crf:v:1') + 1], '21.5');
  t.same(args.slice(args.indexOf('0:a:0') - 1, args.indexOf('0:a:0') + 3), ['-map', '0:a:0', '-c:a:0', 'copy'], 'motion: the publisher\'s AAC copied');
  const lecture = planLadder({ videoCodec: 'h264', width: 1280, height: 720, fps: 30, audioCodec: 'aac' },
    { profile: ['720p'], segmentSeconds: 2, encode: encodeQuality('lecture', { lecture: 28, motion: 21.5 }) });
  const l = ffmpegArgs(lecture, { outDir: '/o', record: false, resume: false, preset: 'veryfast', liveWindow: 6, segmentPrefix: 'p' });
  t.same([l[l.indexOf('-tune:v:0') + 1], l[l.indexOf('-crf:v:0') + 1]], ['stillimage', '28']);
});

t.test('no rung is capped above what the source sends', async (t) => {
  // A 720p source sent at 1,000 kbit/s with unaligned keyframes: every rung is encoded, none above 1,000.
  const plan = planLadder({ videoCodec: 'h264', width: 1280, height: 720, fps: 30, audioCodec: 'aac', videoKbps: 1000 },
    { profile: ['720p', '480p', '360p'], segmentSeconds: 2 });
  t.same(plan.rungs.map((r) => [r.name, r.videoKbps]), [['720p', 1000], ['480p', 1000], ['360p', 800]]);
  const args = ffmpegArgs(plan, { outDir: '/o', record: false, resume: false, preset: 'veryfast', liveWindow: 6, segmentPrefix: 'p' });
  t.same([0, 1, 2].map((i) => args[args.indexOf(`-maxrate:v:${i}`) + 1]), ['1000k', '1000k', '800k']);
});

t.test('a browser over WebRTC: Matroska in, made 30 fps before the split, VP8 encoded on every rung, Opus to AAC', async (t) => {
  const plan = planLadder({ videoCodec: 'vp8', width: 1280, height: 720, fps: 30, audioCodec: 'opus', container: 'mkv', via: 'whip', keyframeInterval: 2 },
    { profile: ['720p', '360p'], segmentSeconds: 2 });
  t.same(ffmpegArgs(plan, { outDir: '/m/live/bio', record: true, resume: false, preset: 'veryfast', liveWindow: 6, segmentPrefix: 's_w' }), [
    ...common.slice(0, -4), '-f', 'matroska', '-i', 'pipe:0',
    '-filter_complex', '[0:v:0]fps=30,split=2[s0][s1];[s0]scale=1280:720,setsar=1[v0];[s1]scale=640:360,setsar=1[v1]',
    '-map', '[v0]', ...x264(0, 2800, '60', 'expr:gte(t,n_forced*2)'),
    '-map', '[v1]', ...x264(1, 800, '60', 'expr:gte(t,n_forced*2)'),
    '-map', '0:a:0', '-c:a:0', 'aac', '-b:a:0', '96k', '-ac:a:0', '2', '-ar:a:0', '48000',
    '-map', '0:a:0', '-c:a:1', 'aac', '-b:a:1', '64k', '-ac:a:1', '2', '-ar:a:1', '48000',
    '-f', 'hls', '-hls_time', '2', '-hls_list_size', '0', '-hls_playlist_type', 'event', '-hls_flags', 'independent_segments+program_date_time',
    '-hls_segment_type', 'mpegts', '-hls_segment_filename', '/m/live/bio/%v/s_w_%05d.ts',
    '-var_stream_map', 'v:0,agroup:aud,name:720p v:1,agroup:aud,name:360p a:0,agroup:aud,name:audio a:1,name:audio-only',
    '/m/live/bio/%v/index.m3u8',
  ]);
});

t.test('the relay to Mux of a browser class: Matroska in, VP8 encoded once to H.264, Opus to AAC; H.264 kept', async (t) => {
  const { relayArgs } = await import('../src/mux/relay.js');
  t.same(relayArgs('rtmps://ingest.example/app/KEY', undefined, { container: 'mkv', videoCodec: 'vp8' }), [
    '-hide_banner', '-loglevel', 'warning', '-nostats', '-fflags', '+genpts', '-f', 'matroska', '-i', 'pipe:0',
    '-map', '0:v:0', '-map', '0:a:0?', '-vf', 'fps=30', '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p',
    '-b:v', '2500k', '-maxrate', '2500k', '-bufsize', '5000k', '-g', '60', '-keyint_min', '60', '-sc_threshold', '0',
    '-c:a', 'aac', '-b:a', '128k', '-ar', '48000', '-ac', '2', '-f', 'flv', 'rtmps://ingest.example/app/KEY',
  ]);
  t.match(relayArgs('rtmps://x/app/K', undefined, { container: 'mkv', videoCodec: 'h264' }).join(' '), /-map 0:v:0 -map 0:a:0\? -c:v copy -c:a aac/, 'H.264 from OBS over WHIP is kept');
});

t.test('the stage\'s voices: a second input (raw PCM on fd 3) mixed with the class\'s sound, one copy per audio encoder', async (t) => {
  const plan = withStageAudio(planLadder({ videoCodec: 'h264', width: 1280, height: 720, fps: 30, audioCodec: 'aac', keyframeInterval: 2, videoKbps: 3000 },
    { profile: ['720p', '480p'], segmentSeconds: 2, encode: encodeQuality('motion') }));
  t.equal(plan.audio, 'aac', 'a mix is encoded: the publisher\'s AAC is no longer copied');
  t.same(ffmpegArgs(plan, { outDir: '/m/live/math', record: true, resume: false, preset: 'veryfast', liveWindow: 6, segmentPrefix: 's_y' }).slice(0, 32), [
    ...common,
    '-thread_queue_size', '1024', '-f', 's16le', '-ar', '48000', '-ac', '1', '-i', 'pipe:3',
    '-filter_complex', '[0:v:0]split=1[s1];[s1]scale=854:480,setsar=1[v1];'
      + '[0:a:0]aresample=48000[ca];[ca][1:a:0]amix=inputs=2:duration=first:normalize=0,asplit=2[sa0][sa1]',
    '-map', '0:v:0', '-c:v:0', 'copy',
  ]);
  const args = ffmpegArgs(plan, { outDir: '/m/live/math', record: true, resume: false, preset: 'veryfast', liveWindow: 6, segmentPrefix: 's_y' });
  t.same(args.filter((a, i) => args[i - 1] === '-map' && a.startsWith('[sa')), ['[sa0]', '[sa1]'], 'the audio variant and the audio-only rendition each take a copy');
  t.notOk(args.includes('0:a:0'), 'no output maps the class\'s sound directly');

  const ll = withStageAudio(planLadder({ videoCodec: 'h264', width: 1280, height: 720, fps: 30, audioCodec: 'aac' }, { profile: ['720p', '480p'], segmentSeconds: 1 }));
  const llArgs = llFfmpegArgs(ll, { preset: 'veryfast', partSeconds: 0.333 });
  t.equal(llStageFd(ll), 6, 'LL-HLS: after the three output pipes (two rungs and the audio-only rendition)');
  t.ok(llArgs.join(' ').includes('-i pipe:6'), 'the stage input on fd 6');
  t.ok(llArgs.join(' ').includes('amix=inputs=2:duration=first:normalize=0,asplit=3[sa0][sa1][sa2]'), 'one copy per rung and the audio-only rendition');

  const silent = withStageAudio(planLadder({ videoCodec: 'h264', width: 640, height: 360, fps: 30, audioCodec: 'none' }, { profile: ['360p'], segmentSeconds: 2 }));
  t.equal(silent.stageAudio, 'alone', 'a source without sound: the stage is the sound');
  t.ok(ffmpegArgs(silent, { outDir: '/m', record: false, resume: false, preset: 'veryfast', liveWindow: 6, segmentPrefix: 's' }).join(' ').includes('[1:a:0]anull,asplit=2[sa0][sa1]'));
  t.equal(withStageAudio(plan), plan, 'applied once');
});

t.test('the stage\'s picture: a third input (yuva420p strips on fd 4) laid over the video at the top rung\'s size, before the split', async (t) => {
  const source = { videoCodec: 'h264' as const, width: 1280, height: 720, fps: 30, audioCodec: 'aac' as const, keyframeInterval: 2, videoKbps: 3000 };
  const copied = withStageAudio(planLadder(source, { profile: ['720p', '480p'], segmentSeconds: 2 }));
  t.equal(withStagePicture(copied), copied, 'a passed-through top rung cannot show the picture: the plan is unchanged');
  const plan = withStagePicture(planLadder(source, { profile: ['720p', '480p'], segmentSeconds: 2, encodeTop: true }));
  t.ok(plan.stagePicture && plan.stageAudio === 'mix', 'the picture comes with the stage\'s sound');
  t.equal(stagePipes(plan), 2);
  const args = ffmpegArgs(plan, { outDir: '/m/live/math', record: true, resume: false, preset: 'veryfast', liveWindow: 6, segmentPrefix: 's_y' });
  const i = args.indexOf('pipe:3');
  t.same(args.slice(i + 1, i + 14), [
    '-thread_queue_size', '16', '-f', 'rawvideo', '-pixel_format', 'yuva420p', '-video_size', '1312x144', '-framerate', '10', '-i', 'pipe:4',
    '-filter_complex',
  ]);
  t.equal(args[i + 14], '[0:v:0]scale=1280:720,setsar=1[base];[2:v:0]scale=1088:120[tiles];[base][tiles]overlay=x=170:y=578:eof_action=pass,split=2[s0][s1];'
    + '[s0]scale=1280:720,setsar=1[v0];[s1]scale=854:480,setsar=1[v1];'
    + '[0:a:0]aresample=48000[ca];[ca][1:a:0]amix=inputs=2:duration=first:normalize=0,asplit=2[sa0][sa1]');
  const ll = withStagePicture(planLadder({ ...source, container: 'mkv' }, { profile: ['720p'], segmentSeconds: 1, encodeTop: true }));
  const llArgs = llFfmpegArgs(ll, { preset: 'veryfast', partSeconds: 0.333 });
  t.equal(llStageFd(ll), 5, 'LL-HLS: the sound after the two output pipes (the rung, the audio-only rendition)…');
  t.ok(llArgs.join(' ').includes('-i pipe:6'), '…and the picture after it');
  t.ok(llArgs.join(' ').includes('[0:v:0]fps=30,scale=1280:720,setsar=1[base]'), 'a browser\'s frames made constant first');
});
