// Maps known ffmpeg failure lines to plain, actionable messages. Pure; extend the table as new failures are met.

const KNOWN: [RegExp, string][] = [
  [/Unknown encoder 'libx264'/i, 'this ffmpeg has no libx264 encoder; install Debian\'s ffmpeg or set transcode.ffmpegPath'],
  [/Unknown encoder 'aac'/i, 'this ffmpeg has no AAC encoder; install Debian\'s ffmpeg or set transcode.ffmpegPath'],
  [/No space left on device/i, 'the media disk is full; free space under paths.media'],
  [/Permission denied/i, 'ffmpeg cannot write to the media folder; check its permissions'],
  [/Invalid data found when processing input/i, 'the publisher sent media ffmpeg cannot read (check the OBS encoder settings: H.264 + AAC)'],
  [/Could not find codec parameters|does not contain any stream/i, 'no video arrived from the publisher (is OBS sending video?)'],
  [/Error initializing (output|filter)|Error while opening encoder/i, 'ffmpeg could not set up the ladder (unsupported source size or frame rate?)'],
  [/Cannot allocate memory|Out of memory/i, 'the box ran out of memory while transcoding'],
  [/Broken pipe|End of file/i, 'the media pipe to ffmpeg closed'],
];

export function explainFfmpegError(stderrTail: string): string | undefined {
  for (const [re, message] of KNOWN) if (re.test(stderrTail)) return message;
  return undefined;
}
