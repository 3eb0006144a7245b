// Parses ffmpeg's `-progress` output (key=value lines, blocks ending in progress=continue|end). Pure.

export interface Progress {
  fps: number;
  speed: number;
  bitrateKbps: number;
  outTimeSeconds: number;
  frame: number;
}

/** Feeds text chunks; calls onBlock with each complete progress block. */
export class ProgressParser {
  private partial = '';
  private block = new Map<string, string>();

  constructor(private readonly onBlock: (p: Progress) => void) {}

  push(chunk: string): void {
    const text = this.partial + chunk;
    const lines = text.split('\n');
    this.partial = (lines.pop() ?? '').slice(-1024); // a line without newline is bounded
    for (const line of lines) {
      const eq = line.indexOf('=');
      if (eq <= 0) continue;
      const key = line.slice(0, eq).trim();
      const value = line.slice(eq + 1).trim();
      if (key === 'progress') {
        this.onBlock(toProgress(this.block));
        this.block = new Map();
      } else if (this.block.size < 64) {
        this.block.set(key, value);
      }
    }
  }
}

const num = (v: string | undefined): number => {
  const n = Number.parseFloat(v ?? '');
  return Number.isFinite(n) ? n : 0;
};

export function toProgress(b: Map<string, string>): Progress {
  const outUs = num(b.get('out_time_us') ?? b.get('out_time_ms'));
  return {
    fps: num(b.get('fps')),
    speed: num(b.get('speed')?.replace('x', '')),
    bitrateKbps: num(b.get('bitrate')?.replace('kbits/s', '')),
    outTimeSeconds: outUs / 1e6,
    frame: num(b.get('frame')),
  };
}
