// A speech engine speaking the engine protocol (docs/captions.md) without recognising anything: it reads the
// class's 16 kHz mono s16le PCM on stdin and, for every 2 s of audio it heard, says how loud it was, as a phrase
// timed to that audio. Stands where a school's own engine (a whisper.cpp or Vosk server) would; the test checks
// the protocol and the timing, not recognition.
let bytes = 0;
let next = 2;
let sumSq = 0;
let n = 0;
process.stdin.on('data', (chunk) => {
  for (let i = 0; i + 1 < chunk.length; i += 2) {
    const v = chunk.readInt16LE(i) / 32768;
    sumSq += v * v;
    n += 1;
  }
  bytes += chunk.length;
  while (bytes / 32000 >= next) {
    const rms = Math.sqrt(sumSq / Math.max(1, n));
    process.stdout.write(`progress: ${next} s\n`); // not a phrase: ignored
    process.stdout.write(`${JSON.stringify({ text: `second ${next} level ${rms > 0.01 ? 'sound' : 'quiet'}`, start: next - 2, end: next - 0.5 })}\n`);
    sumSq = 0;
    n = 0;
    next += 2;
  }
});
process.stdin.on('end', () => process.exit(0));
