// Generates and hashes shared secrets (stream keys, API tokens). Plaintext leaves this module only
// as the return value of generate*, to be shown once; everything stored is a SHA-256 hash.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** 32 random bytes, base64url: only [A-Za-z0-9_-], which node-media-server accepts in a stream name. */
export function generateStreamKey(): string {
  return randomBytes(32).toString('base64url');
}

/** API tokens carry a prefix so they are recognisable in logs and secret scanners. */
export function generateApiToken(): string {
  return 'kmk_' + randomBytes(32).toString('base64url');
}

export function hashSecret(plaintext: string): string {
  return createHash('sha256').update(plaintext, 'utf8').digest('hex');
}

/** A short, non-reversible label for a secret, safe to print and log. */
export function fingerprintOf(hash: string): string {
  return hash.slice(0, 8);
}

/** Constant-time comparison of two hex hashes of equal length. */
export function sameHash(a: string, b: string): boolean {
  const ba = Buffer.from(a, 'hex');
  const bb = Buffer.from(b, 'hex');
  return ba.length === bb.length && ba.length > 0 && timingSafeEqual(ba, bb);
}

export const STREAM_KEY_PATTERN = /^[A-Za-z0-9_-]{43}$/;
export const API_TOKEN_PATTERN = /^kmk_[A-Za-z0-9_-]{43}$/;
