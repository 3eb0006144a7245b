// Runs a program that reads its audio from a file path (pocketsphinx_continuous -infile) fed through a named pipe.
// Node gives a child's stdin as a socket, and a socket cannot be opened by path (/dev/stdin answers ENXIO): the
// engine reads a FIFO instead, which this spawner makes in a private temporary folder, writes through a
// non-blocking handle (a stalled engine fills the pipe; it never blocks the server) and removes when the child exits.

import { spawn as nodeSpawn, spawnSync } from 'node:child_process';
import { constants, mkdtempSync, openSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildLike, Spawner } from '../media/ffmpeg-process.js';

/** The argument the FIFO's path replaces. */
export const AUDIO_PATH = '{audio}';

export const fifoSpawner: Spawner = (cmd, args, io) => {
  const dir = mkdtempSync(join(tmpdir(), 'kmk-speech-'));
  const fifo = join(dir, 'audio.pcm');
  const made = spawnSync('mkfifo', ['-m', '600', fifo]);
  if (made.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`cannot make a pipe for the speech engine: ${made.stderr?.toString().trim() || made.error?.message || 'mkfifo failed'}`);
  }
  // Read-write, non-blocking: opening does not wait for the engine, and writes never block the event loop.
  const fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
  const input = new Socket({ fd, readable: false, writable: true });
  input.on('error', () => {});
  const child = nodeSpawn(cmd, args.map((a) => (a === AUDIO_PATH ? fifo : a)), { stdio: ['ignore', io.stdout ? 'pipe' : 'ignore', 'pipe'] });
  const cleanup = (): void => {
    input.destroy();
    rmSync(dir, { recursive: true, force: true });
  };
  child.once('close', cleanup);
  child.once('error', cleanup);
  return {
    get pid() { return child.pid; },
    get exitCode() { return child.exitCode; },
    stdin: input,
    stdout: child.stdout,
    stderr: child.stderr,
    kill: (signal) => child.kill(signal),
    once: ((event: string, fn: (...a: unknown[]) => void) => child.once(event, fn)) as ChildLike['once'],
  };
};
