// The tool's RS256 signing keys: generated on first use, stored in SQLite, rotated by `kmk-live lti keys rotate`.
// A retired key stays in the JWKS for KEEP_RETIRED_MS (longer than anything we sign lives) so platforms can still
// check what it signed. Signing goes through jose; no hand-written JWT code.

import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK, type JWTPayload } from 'jose';
import type { LtiRepository } from '../store/ports.js';

/** Our client assertions and deep-linking responses live 5 minutes; keep a retired key an hour. */
export const KEEP_RETIRED_MS = 60 * 60 * 1000;

export class ToolKeys {
  constructor(private readonly repo: Pick<LtiRepository, 'keys' | 'addKey' | 'dropKeysRetiredBefore'>, private readonly now: () => number = Date.now) {}

  /** Creates the first key when there is none. */
  async ensure(): Promise<void> {
    if (!(await this.repo.keys()).some((k) => k.retiredAt === null)) await this.rotate();
  }

  /** A new active key; the old one is retired (still published until KEEP_RETIRED_MS has passed). */
  async rotate(): Promise<{ kid: string }> {
    const { publicKey, privateKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
    const kid = randomUUID();
    const pub = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
    const priv = { ...(await exportJWK(privateKey)), kid, alg: 'RS256' };
    await this.repo.addKey({ kid, privateJwk: JSON.stringify(priv), publicJwk: JSON.stringify(pub), createdAt: this.now() });
    await this.repo.dropKeysRetiredBefore(this.now() - KEEP_RETIRED_MS);
    return { kid };
  }

  /** The public keys: the active one and those retired less than KEEP_RETIRED_MS ago. */
  async jwks(): Promise<{ keys: JWK[] }> {
    const cutoff = this.now() - KEEP_RETIRED_MS;
    return { keys: (await this.repo.keys()).filter((k) => k.retiredAt === null || k.retiredAt >= cutoff).map((k) => JSON.parse(k.publicJwk) as JWK) };
  }

  async list(): Promise<{ kid: string; createdAt: string; retiredAt: string | null; published: boolean }[]> {
    const cutoff = this.now() - KEEP_RETIRED_MS;
    return (await this.repo.keys()).map((k) => ({
      kid: k.kid, createdAt: new Date(k.createdAt).toISOString(), retiredAt: k.retiredAt === null ? null : new Date(k.retiredAt).toISOString(),
      published: k.retiredAt === null || k.retiredAt >= cutoff,
    }));
  }

  /** Signs claims with the active key (RS256, kid in the header). */
  async sign(claims: JWTPayload, ttlSeconds: number): Promise<string> {
    await this.ensure();
    const active = (await this.repo.keys()).find((k) => k.retiredAt === null)!;
    const key = await importJWK(JSON.parse(active.privateJwk) as JWK, 'RS256');
    const now = Math.floor(this.now() / 1000);
    return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: active.kid, typ: 'JWT' })
      .setIssuedAt(now).setExpirationTime(now + ttlSeconds).setJti(randomUUID()).sign(key);
  }
}
