// The installation's join-token signing secret: from config (hub.joinSecret) or generated once into the data
// folder (mode 0600) on first use. Never logged or printed. A secret shorter than MIN_SECRET_BYTES is refused, never
// used: anyone who could guess it could forge instructor and playback tokens. A new one is written to a temporary
// file, synced and renamed into place, so a crash or a full disk never leaves a short file behind.

import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../domain/errors.js';

export const JOIN_SECRET_FILE = 'join-secret';
export const MIN_SECRET_BYTES = 32;

export function loadJoinSecret(configured: string, dataDir: string): Buffer {
  if (configured) {
    if (Buffer.byteLength(configured, 'utf8') < MIN_SECRET_BYTES) {
      throw new ConfigError(`hub.joinSecret is shorter than ${MIN_SECRET_BYTES} bytes: set a longer random value (e.g. openssl rand -hex 32), or leave it empty to use ${join(dataDir, JOIN_SECRET_FILE)}`);
    }
    return Buffer.from(configured, 'utf8');
  }
  const file = join(dataDir, JOIN_SECRET_FILE);
  const existing = readSecretFile(file);
  if (existing) return existing;
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(32).toString('hex');
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, `${secret}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    // link, not rename: a second process that created the file first keeps its secret, and we use theirs.
    linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return readSecretFile(file) ?? shortFile(file);
  } finally {
    unlinkSync(tmp);
  }
  syncFolder(dataDir);
  return Buffer.from(secret, 'utf8');
}

/** The secret in the file; undefined when there is no file; a ConfigError when it is too short to be safe. */
function readSecretFile(file: string): Buffer | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (Buffer.byteLength(text, 'utf8') < MIN_SECRET_BYTES) shortFile(file);
  return Buffer.from(text, 'utf8');
}

function shortFile(file: string): never {
  throw new ConfigError(`${file} holds fewer than ${MIN_SECRET_BYTES} bytes, too short to sign join tokens safely (a full disk at first start can leave such a file). Delete it to have a new one made (every join token issued so far stops working), or set hub.joinSecret`);
}

function syncFolder(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // some file systems cannot sync a folder; the file itself is synced
  }
}
