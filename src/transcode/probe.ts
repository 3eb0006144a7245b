// ffprobe through fluent-ffmpeg (the only importer besides the supervisor): reads codec, profile, level and
// size of a produced segment, so the master playlist can state CODECS even for copied streams.

import ffmpeg from 'fluent-ffmpeg';

export interface ProbedStream {
  kind: 'video' | 'audio';
  codec: string;
  profile?: string;
  level?: number;
  width?: number;
  height?: number;
  /** Frames per second (video), from r_frame_rate. */
  fps?: number;
}

export function probeFile(path: string, ffprobePath: string, timeoutMs = 10000): Promise<ProbedStream[]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ffprobe timed out on ${path}`)), timeoutMs);
    const cmd = ffmpeg();
    cmd.setFfprobePath(ffprobePath);
    cmd.input(path).ffprobe((err: Error | null, data: ffmpeg.FfprobeData) => {
      clearTimeout(timer);
      if (err) return reject(new Error(`ffprobe ${path}: ${err.message.split('\n')[0]}`));
      resolve(data.streams.filter((s) => s.codec_type === 'video' || s.codec_type === 'audio').map((s) => ({
        kind: s.codec_type as 'video' | 'audio',
        codec: s.codec_name ?? 'unknown',
        profile: s.profile === undefined ? undefined : String(s.profile),
        level: typeof s.level === 'number' ? s.level : undefined,
        width: s.width,
        height: s.height,
        fps: frameRate(s.r_frame_rate),
      })));
    });
  });
}

/** RFC 6381 codec string for a probed stream ("avc1.64001f", "mp4a.40.2"). */
export function codecString(s: ProbedStream): string | undefined {
  if (s.codec === 'h264') {
    const profiles: Record<string, string> = {
      'Constrained Baseline': '42e0', Baseline: '4200', Main: '4d40', High: '6400', 'High 10': '6e00', 'High 4:2:2': '7a00',
    };
    const p = profiles[s.profile ?? ''] ?? '6400';
    const level = Math.max(0, Math.min(255, s.level ?? 31)).toString(16).padStart(2, '0');
    return `avc1.${p}${level}`;
  }
  if (s.codec === 'aac') {
    const objectType: Record<string, number> = { LC: 2, 'HE-AAC': 5, 'HE-AACv2': 29 };
    return `mp4a.40.${objectType[s.profile ?? ''] ?? 2}`;
  }
  if (s.codec === 'mp3') return 'mp4a.40.34';
  return undefined;
}

/** "30000/1001" → 29.97; undefined for "0/0" or nonsense. Pure. */
export function frameRate(r: string | undefined): number | undefined {
  const m = /^(\d+)\/(\d+)$/.exec(r ?? '');
  if (!m || Number(m[2]) === 0 || Number(m[1]) === 0) return undefined;
  return Math.round((Number(m[1]) / Number(m[2])) * 1000) / 1000;
}
