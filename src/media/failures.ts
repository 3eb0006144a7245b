// Maps known ffmpeg failure lines to a code (what other modules decide on) and a plain, actionable message (what
// people read). Pure; extend the table as new failures are met.

export type FfmpegFailure =
  | 'no_x264' | 'no_aac' | 'disk_full' | 'media_not_writable' | 'bad_input' | 'no_video' | 'ladder_setup'
  | 'out_of_memory' | 'pipe_closed';

const KNOWN: [RegExp, FfmpegFailure][] = [
  [/Unknown encoder 'libx264'/i, 'no_x264'],
  [/Unknown encoder 'aac'/i, 'no_aac'],
  [/No space left on device/i, 'disk_full'],
  [/Permission denied/i, 'media_not_writable'],
  [/Invalid data found when processing input/i, 'bad_input'],
  [/Could not find codec parameters|does not contain any stream/i, 'no_video'],
  [/Error initializing (output|filter)|Error while opening encoder/i, 'ladder_setup'],
  [/Cannot allocate memory|Out of memory/i, 'out_of_memory'],
  [/Broken pipe|End of file/i, 'pipe_closed'],
];

export const FAILURE_TEXT: Record<FfmpegFailure, string> = {
  no_x264: 'this ffmpeg has no libx264 encoder; install Debian\'s ffmpeg or set transcode.ffmpegPath',
  no_aac: 'this ffmpeg has no AAC encoder; install Debian\'s ffmpeg or set transcode.ffmpegPath',
  disk_full: 'the media disk is full; free space under paths.media',
  media_not_writable: 'ffmpeg cannot write to the media folder; check its permissions',
  bad_input: 'the publisher sent media ffmpeg cannot read (check the OBS encoder settings: H.264 + AAC)',
  no_video: 'no video arrived from the publisher (is OBS sending video?)',
  ladder_setup: 'ffmpeg could not set up the ladder (unsupported source size or frame rate?)',
  out_of_memory: 'the box ran out of memory while transcoding',
  pipe_closed: 'the media pipe to ffmpeg closed',
};

/** The failure an ffmpeg stderr tail shows, if it is a known one. */
export function classifyFfmpegError(stderrTail: string): FfmpegFailure | undefined {
  for (const [re, failure] of KNOWN) if (re.test(stderrTail)) return failure;
  return undefined;
}

/** Failures that mean the media folder cannot take more writes. */
export const isDiskFailure = (f: FfmpegFailure | undefined): boolean => f === 'disk_full' || f === 'media_not_writable';

export function explainFfmpegError(stderrTail: string): string | undefined {
  const f = classifyFfmpegError(stderrTail);
  return f && FAILURE_TEXT[f];
}
