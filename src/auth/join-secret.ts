// The installation's join-token signing secret: from config (hub.joinSecret) or generated once into the data
// folder (mode 0600) on first use. Never logged or printed.

import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const JOIN_SECRET_FILE = 'join-secret';

export function loadJoinSecret(configured: string, dataDir: string): Buffer {
  if (configured) return Buffer.from(configured, 'utf8');
  const file = join(dataDir, JOIN_SECRET_FILE);
  try {
    const text = readFileSync(file, 'utf8').trim();
    if (text.length >= 32) return Buffer.from(text, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(32).toString('hex');
  try {
    writeFileSync(file, secret + '\n', { mode: 0o600, flag: 'wx' });
  } catch (err) {
    // Another process created it first: use theirs.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return Buffer.from(readFileSync(file, 'utf8').trim(), 'utf8');
    throw err;
  }
  return Buffer.from(secret, 'utf8');
}
