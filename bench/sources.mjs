// Generated sources for the benchmarks (not a test): a lecture-like picture (text slides changing every 12 s, a
// small noisy camera inset, a moving pointer) and a camera-like one (detail in motion everywhere), with a speech-like
// tone; each kept lossless (what quality is measured against) and encoded as OBS is told to send it.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const FONT = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';

/** The lecture-like picture for `seconds`; `noise` is the camera inset's sensor noise (30 a poor webcam, 12 a fair one). */
export function lectureFilter(seconds, noise) {
  const slides = Array.from({ length: Math.ceil(seconds / 12) }, (_, k) => k);
  const slideText = (k) => [
    `drawtext=fontfile=${FONT}:text='Lecture 7 - Slide ${k + 1}\\: Enzyme kinetics':x=60:y=50:fontsize=44:fontcolor=0x202060:enable='between(t,${12 * k},${12 * k + 12})'`,
    ...[0, 1, 2, 3, 4].map((l) => `drawtext=fontfile=${FONT}:text='- Point ${l + 1}\\: Michaelis-Menten rate v = Vmax[S]/(Km+[S]), case ${k * 5 + l}':x=80:y=${150 + l * 60}:fontsize=30:fontcolor=black:enable='between(t,${12 * k},${12 * k + 12})'`),
  ].join(',');
  return [
    `color=c=0xf4f4f0:s=1280x720:r=30[bg]`,
    `[bg]${slides.map(slideText).join(',')}[sl]`,
    `testsrc2=s=320x180:r=30,noise=alls=${noise}:allf=t+u[cam]`,
    `color=c=red:s=14x14:r=30[ptr]`,
    `[sl][cam]overlay=x=W-340:y=H-200[a]`,
    `[a][ptr]overlay=x='400+300*sin(t*0.7)':y='330+90*sin(t*1.1)'[v]`,
  ].join(';');
}

export const CAMERA_FILTER = `mandelbrot=s=1280x720:r=30:maxiter=256,noise=alls=10:allf=t[v]`;
const SPEECH = `sine=frequency=180:sample_rate=48000,volume='0.4+0.4*sin(2*PI*3*t)':eval=frame[s];anoisesrc=color=pink:amplitude=0.05:sample_rate=48000[n];[s][n]amix=inputs=2[aud]`;

/** Writes `<dir>/<name>-pristine.mkv` (lossless) and `<dir>/<name>.flv` (as OBS sends: x264 veryfast, CBR 2,500
 * kbit/s, keyframes every 2 s, AAC 160 kbit/s). */
export function makeSource(dir, name, filter, seconds) {
  const pristine = join(dir, `${name}-pristine.mkv`);
  const sent = join(dir, `${name}.flv`);
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', filter.replace(/\[v\]$/, ''), '-f', 'lavfi', '-i', SPEECH.replace(/\[aud\]$/, ''),
    '-map', '0:v', '-map', '1:a', '-t', String(seconds), '-pix_fmt', 'yuv420p', '-c:v', 'libx264', '-preset', 'ultrafast', '-qp', '0',
    '-c:a', 'pcm_s16le', pristine]);
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', pristine,
    '-c:v', 'libx264', '-preset', 'veryfast', '-b:v', '2500k', '-minrate', '2500k', '-maxrate', '2500k', '-bufsize', '2500k',
    '-x264-params', 'nal-hrd=cbr', '-g', '60', '-keyint_min', '60', '-sc_threshold', '0', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '160k', '-f', 'flv', sent]);
  return { pristine, sent };
}

/** The source as the server sees it (for planLadder). */
export const SENT_INFO = { videoCodec: 'h264', width: 1280, height: 720, fps: 30, audioCodec: 'aac', keyframeInterval: 2, videoKbps: 2500 };

/** Today's rungs (before 2026-12-04): a bitrate target each, maxrate 1.1×, no quality target. */
export function todayArgs(args, plan) {
  const out = [];
  for (let i = 0; i < args.length; i++) {
    const m = /^-(tune|crf|maxrate):v(:\d+)?$/.exec(args[i]);
    if (!m) { out.push(args[i]); continue; }
    const idx = m[2] ? Number(m[2].slice(1)) : 0;
    const kbps = plan.rungs[idx].videoKbps;
    if (m[1] === 'maxrate') out.push(`-b:v${m[2] ?? ''}`, `${kbps}k`, args[i], `${Math.round(kbps * 1.1)}k`);
    i += 1; // drop -tune and -crf with their values; maxrate's value is replaced above
  }
  return out;
}
