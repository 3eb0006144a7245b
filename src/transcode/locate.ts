// Finds the ffmpeg and ffprobe binaries: configured path, then the system PATH, then the static binaries
// shipped by @ffmpeg-installer/@ffprobe-installer (optional npm dependencies). Reports which one it found.

import { spawnSync } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, join } from 'node:path';

export type Tool = 'ffmpeg' | 'ffprobe';
export type ToolSource = 'config' | 'system' | 'npm';

export interface LocatedTool {
  tool: Tool;
  path: string;
  source: ToolSource;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function onPath(name: string, envPath: string | undefined): string | undefined {
  for (const dir of (envPath ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function fromNpm(tool: Tool): string | undefined {
  const require = createRequire(import.meta.url);
  try {
    const mod = require(tool === 'ffmpeg' ? '@ffmpeg-installer/ffmpeg' : '@ffprobe-installer/ffprobe') as { path?: string };
    return mod.path && isExecutable(mod.path) ? mod.path : undefined;
  } catch {
    return undefined;
  }
}

export interface LocateOptions {
  configured?: string;
  envPath?: string;
  /** Skip the system PATH (tests of the fallback). */
  skipSystem?: boolean;
}

/** The binary to run, or an explanation of what was tried. */
export function locateTool(tool: Tool, opts: LocateOptions = {}): LocatedTool | { tool: Tool; error: string } {
  if (opts.configured) {
    return isExecutable(opts.configured)
      ? { tool, path: opts.configured, source: 'config' }
      : { tool, error: `configured ${tool} ${opts.configured} is not an executable file` };
  }
  const system = opts.skipSystem ? undefined : onPath(tool, opts.envPath ?? process.env.PATH);
  if (system) return { tool, path: system, source: 'system' };
  const npm = fromNpm(tool);
  if (npm) return { tool, path: npm, source: 'npm' };
  return { tool, error: `${tool} not found on PATH nor in the npm fallback package; install Debian's ffmpeg (apt-get install ffmpeg)` };
}

export interface ToolInfo {
  version: string;
  encoders: { libx264: boolean; aac: boolean };
}

/** Runs the binary once to read its version and (for ffmpeg) the encoders we need. */
export function inspectTool(located: LocatedTool): ToolInfo | { error: string } {
  const v = spawnSync(located.path, ['-hide_banner', '-version'], { encoding: 'utf8', timeout: 10000 });
  if (v.error || v.status !== 0) return { error: `${located.path} -version failed: ${v.error?.message ?? `exit ${v.status}`}` };
  const version = /version\s+(\S+)/.exec(v.stdout)?.[1] ?? 'unknown';
  if (located.tool === 'ffprobe') return { version, encoders: { libx264: false, aac: false } };
  const e = spawnSync(located.path, ['-hide_banner', '-encoders'], { encoding: 'utf8', timeout: 10000, maxBuffer: 8 << 20 });
  const text = e.stdout ?? '';
  return { version, encoders: { libx264: /^\s*V\S*\s+libx264\s/m.test(text), aac: /^\s*A\S*\s+aac\s/m.test(text) } };
}
