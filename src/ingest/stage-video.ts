// Thin shells around ffmpeg for the stage's picture in the broadcast (issue 27): one decoder per member camera
// (VP8 RTP → Matroska on stdin → tiles of TILE_W × TILE_H, PICTURE_FPS a second, raw yuv420p on stdout) and a
// one-shot drawing of a member's name tile and name band (drawtext, the system's DejaVu Sans). The frames go to
// the class's StagePicture; nothing here decides what the picture shows.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LABEL_BYTES, LABEL_H, TILE_BYTES, TILE_H, TILE_W } from '../media/tiles.js';
import { RtpToMkv } from './rtp-mkv.js';
import { nameHash } from '../media/stage-picture.js';
import type { RtpIn } from './jitter.js';

/** Tiles decoded a second per camera: what the broadcast's strip is refreshed at. */
export const CAMERA_FPS = 10;
/** Bytes waiting for the decoder at most; past it, frames are dropped until the next keyframe (asked for). */
const MAX_PENDING = 4 * 1024 * 1024;
const JITTER_TICK_MS = 20;

export interface Pids {
  add(pid: number): void;
  remove(pid: number): void;
}

/** The decoder's arguments (pure; golden-tested). */
export function cameraArgs(): string[] {
  return [
    '-hide_banner', '-loglevel', 'error', '-nostdin',
    '-fflags', 'nobuffer', '-analyzeduration', '500000', // Matroska says the size: start at once
    '-f', 'matroska', '-i', 'pipe:0',
    // Fill the tile (cropping a 4:3 camera's edges), at the strip's rate.
    '-vf', `fps=${CAMERA_FPS},scale=${TILE_W}:${TILE_H}:force_original_aspect_ratio=increase,crop=${TILE_W}:${TILE_H},setsar=1,format=yuv420p`,
    '-f', 'rawvideo', 'pipe:1',
  ];
}

/** One member's camera, decoded into tiles. */
export class CameraDecoder {
  private readonly child: ChildProcess;
  private readonly media: RtpToMkv;
  private readonly timer: NodeJS.Timeout;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private closed = false;
  frames = 0;

  constructor(
    ffmpegPath: string,
    private readonly onFrame: (tile: Buffer) => void,
    wantKeyframe: () => void,
    private readonly pids?: Pids,
    private readonly now: () => number = Date.now,
  ) {
    this.child = spawn(ffmpegPath, cameraArgs(), { stdio: ['pipe', 'pipe', 'ignore'] });
    if (this.child.pid) pids?.add(this.child.pid);
    this.child.on('error', () => this.close());
    this.child.on('exit', () => {
      if (this.child.pid) this.pids?.remove(this.child.pid);
    });
    this.child.stdin?.on('error', () => undefined);
    this.child.stdout?.on('data', (c: Buffer) => this.read(c));
    this.media = new RtpToMkv('vp8', false, (u) => {
      const stdin = this.child.stdin;
      if (!stdin || stdin.destroyed || stdin.writableLength > MAX_PENDING) return;
      stdin.write(u.data);
    }, wantKeyframe, this.now());
    this.timer = setInterval(() => this.media.tick(this.now()), JITTER_TICK_MS);
    this.timer.unref();
  }

  push(p: RtpIn): void {
    if (!this.closed) this.media.push('video', p, this.now());
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.child.stdin?.destroy();
    this.child.kill('SIGKILL');
  }

  private read(c: Buffer): void {
    this.pending.push(c);
    this.pendingBytes += c.length;
    if (this.pendingBytes < TILE_BYTES) return;
    const all = Buffer.concat(this.pending);
    const whole = Math.floor(all.length / TILE_BYTES);
    // Only the newest whole frame matters.
    this.frames += whole;
    this.onFrame(Buffer.from(all.subarray((whole - 1) * TILE_BYTES, whole * TILE_BYTES)));
    const rest = all.subarray(whole * TILE_BYTES);
    this.pending = rest.length ? [Buffer.from(rest)] : [];
    this.pendingBytes = rest.length;
  }
}

/** The font the name tiles are drawn in: Debian's DejaVu Sans (fonts-dejavu-core) when present, else fontconfig's. */
const FONT = ['/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf', '/usr/share/fonts/TTF/DejaVuSans.ttf'].find((f) => existsSync(f));
const fontOpt = (): string => (FONT ? `fontfile=${FONT}` : 'font=Sans');

/** Up to two initials of a name, upper case ("Ada Lovelace" → "AL"). Pure. */
export function initials(name: string): string {
  const words = name.trim().split(/\s+/).filter((w) => /^\p{L}/u.test(w));
  const first = (w: string | undefined): string => (w ? [...w][0]!.toLocaleUpperCase() : '');
  return (first(words[0]) + (words.length > 1 ? first(words[words.length - 1]) : '')) || '?';
}

/** A name as it fits a tile: 28 characters at most, control characters out. Pure. */
export function shortName(name: string): string {
  const clean = [...name.replace(/[\p{Cc}\p{Cf}]/gu, '').trim()];
  return clean.length > 28 ? clean.slice(0, 27).join('') + '…' : clean.join('') || 'Guest';
}

/** The drawing's arguments: the tile (initials over the name on a colour) above the band (the name on dark), one
 * raw yuv420p frame of TILE_W × (TILE_H + LABEL_H) on stdout. Texts come from files: no escaping of a user's name. */
export function nameArgs(dir: string, colour: string): string[] {
  const text = (file: string, size: number, y: string): string =>
    `drawtext=${fontOpt()}:textfile=${join(dir, file)}:expansion=none:fontcolor=white:fontsize=${size}:x=(w-text_w)/2:y=${y}`;
  return [
    '-hide_banner', '-loglevel', 'error', '-nostdin',
    '-f', 'lavfi', '-i', `color=c=${colour}:s=${TILE_W}x${TILE_H}:d=1`,
    '-f', 'lavfi', '-i', `color=c=0x202020:s=${TILE_W}x${LABEL_H}:d=1`,
    '-filter_complex',
    `[0:v]${text('initials.txt', 52, '(h-text_h)/2-14')},${text('name.txt', 18, 'h-34')},format=yuv420p[t];` +
    `[1:v]${text('name.txt', 15, '(h-text_h)/2')},format=yuv420p[l];[t][l]vstack,format=yuv420p[out]`,
    '-map', '[out]', '-frames:v', '1', '-f', 'rawvideo', 'pipe:1',
  ];
}

/** The tile and the band out of their stacked frame (yuv420p planes, row ranges of each). Pure. */
export function splitStack(frame: Buffer): { tile: Buffer; label: Buffer } {
  const w = TILE_W;
  const h = TILE_H + LABEL_H;
  const cw = w / 2;
  const planes = [
    { off: 0, width: w, split: TILE_H, rows: h },
    { off: w * h, width: cw, split: TILE_H / 2, rows: h / 2 },
    { off: w * h + (cw * h) / 2, width: cw, split: TILE_H / 2, rows: h / 2 },
  ];
  const tile = Buffer.concat(planes.map((p) => frame.subarray(p.off, p.off + p.split * p.width)));
  const label = Buffer.concat(planes.map((p) => frame.subarray(p.off + p.split * p.width, p.off + p.rows * p.width)));
  return { tile, label };
}

const COLOURS = ['0x2f6f4f', '0x5b3f8f', '0x2f5f9f', '0x6f7f2f', '0x2f7f7f'];

/** Draws a member's name tile and name band; undefined when ffmpeg could not (the picture then shows a plain tile). */
export async function drawName(ffmpegPath: string, name: string): Promise<{ tile: Buffer; label: Buffer } | undefined> {
  const dir = await mkdtemp(join(tmpdir(), 'kmk-stage-name-'));
  try {
    await writeFile(join(dir, 'initials.txt'), initials(name));
    await writeFile(join(dir, 'name.txt'), shortName(name));
    const out = await run(ffmpegPath, nameArgs(dir, COLOURS[nameHash(name) % COLOURS.length]!));
    if (!out || out.length < TILE_BYTES + LABEL_BYTES) return undefined;
    return splitStack(out);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function run(cmd: string, args: string[]): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.stdout?.on('data', (c: Buffer) => chunks.push(c));
    child.on('error', () => resolve(undefined));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve(code === 0 ? Buffer.concat(chunks) : undefined);
    });
  });
}
