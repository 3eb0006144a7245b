// Verifies an LTI 1.3 launch (the id_token the platform form-posts to /lti/launch): the state from our login,
// the signature against the platform's JWKS (jose: fetched, cached by kid, fetched again once for an unknown
// kid), iss, aud/azp, exp/iat with a small clock skew, the nonce used once, the deployment, then the claims.
// Every refusal names the check that failed; nothing here throws for bad input.

import { createRemoteJWKSet, decodeJwt, errors, jwtVerify, type JWTPayload } from 'jose';
import type { LtiRepository } from '../store/ports.js';
import type { Platform } from '../domain/records.js';
import { readLaunch, type Launch } from './claims.js';

export type Verdict =
  | { ok: true; launch: Launch; platform: Platform; storageTarget: string | null; state: string; binding: string }
  | { ok: false; status: 400 | 401 | 403; check: string; message: string };

export interface VerifierOptions {
  clockSkewSeconds: number;
  now?: () => number;
}

const refuse = (status: 400 | 401 | 403, check: string, message: string): Verdict => ({ ok: false, status, check, message });

export class LaunchVerifier {
  private readonly jwks = new Map<number, { url: string; set: ReturnType<typeof createRemoteJWKSet> }>();

  constructor(private readonly repo: Pick<LtiRepository, 'takeLogin' | 'findPlatform' | 'useNonce'>, private readonly o: VerifierOptions) {}

  private keySet(p: Platform): ReturnType<typeof createRemoteJWKSet> {
    const known = this.jwks.get(p.id);
    if (known && known.url === p.jwksUrl) return known.set;
    // cooldown: an unknown kid triggers at most one refetch per 30 s, so a flood of bad tokens cannot hammer the LMS.
    const set = createRemoteJWKSet(new URL(p.jwksUrl), { timeoutDuration: 5000, cooldownDuration: 30000, cacheMaxAge: 10 * 60 * 1000 });
    this.jwks.set(p.id, { url: p.jwksUrl, set });
    return set;
  }

  async verify(idToken: string | undefined, state: string | undefined): Promise<Verdict> {
    const now = this.o.now?.() ?? Date.now();
    if (!state) return refuse(400, 'state', 'The launch carries no state.');
    if (!idToken) return refuse(400, 'id_token', 'The launch carries no id_token.');
    if (idToken.length > 32768) return refuse(400, 'id_token', 'The id_token is too large.');
    const login = await this.repo.takeLogin(state, now);
    if (!login) return refuse(400, 'state', 'This launch does not match a login started here (expired, already used, or forged). Open the class again from the course page.');
    let unverified: JWTPayload;
    try {
      unverified = decodeJwt(idToken);
    } catch {
      return refuse(400, 'id_token', 'The id_token is not a JWT.');
    }
    const platform = await this.repo.findPlatform(login.platformId);
    if (!platform) return refuse(403, 'iss', 'The LMS this login started with is no longer registered.');
    if (unverified.iss !== platform.issuer) return refuse(401, 'iss', 'The id_token was issued by another LMS than the one the login started with.');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(idToken, this.keySet(platform), {
        issuer: platform.issuer, audience: platform.clientId, algorithms: ['RS256'], clockTolerance: this.o.clockSkewSeconds,
        maxTokenAge: 3600, requiredClaims: ['exp', 'iat', 'sub', 'nonce'], currentDate: new Date(now),
      }));
    } catch (err) {
      return this.joseRefusal(err);
    }
    const aud = payload.aud;
    if (Array.isArray(aud) && aud.length > 1 && payload.azp !== platform.clientId) {
      return refuse(401, 'azp', 'The id_token has several audiences and its azp is not this tool.');
    }
    if (typeof payload.iat === 'number' && payload.iat * 1000 > now + this.o.clockSkewSeconds * 1000) {
      return refuse(401, 'iat', 'The id_token was issued in the future (check the clocks).');
    }
    if (payload.nonce !== login.nonce) return refuse(401, 'nonce', 'The id_token\'s nonce does not belong to this login (a replayed launch?).');
    if (!(await this.repo.useNonce(String(payload.nonce), (payload.exp ?? 0) * 1000 + 60000, now))) {
      return refuse(401, 'nonce', 'This id_token was already used (a replayed launch).');
    }
    const deployment = payload['https://purl.imsglobal.org/spec/lti/claim/deployment_id'];
    if (typeof deployment !== 'string' || !platform.deploymentIds.includes(deployment)) {
      return refuse(403, 'deployment_id', `Deployment ${JSON.stringify(deployment ?? null)} is not registered for this LMS. Ask the administrator to add it.`);
    }
    const launch = readLaunch(payload as Record<string, unknown>);
    if (typeof launch === 'string') return refuse(400, launch.split(':')[0]!, `The launch is incomplete: ${launch}.`);
    return { ok: true, launch, platform, storageTarget: login.storageTarget, state, binding: login.binding };
  }

  private joseRefusal(err: unknown): Verdict {
    if (err instanceof errors.JWKSNoMatchingKey) return refuse(401, 'kid', 'The id_token is signed with a key the LMS does not publish.');
    if (err instanceof errors.JWSSignatureVerificationFailed) return refuse(401, 'signature', 'The id_token\'s signature does not verify.');
    if (err instanceof errors.JWTExpired) return refuse(401, 'exp', 'The id_token has expired.');
    if (err instanceof errors.JWTClaimValidationFailed) return refuse(401, err.claim || 'claims', `The id_token's "${err.claim}" claim is wrong: ${err.message}.`);
    if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid || err instanceof TypeError) {
      return refuse(401, 'jwks', 'The LMS\'s public keys (JWKS) could not be fetched; try again in a minute.');
    }
    if (err instanceof errors.JOSEAlgNotAllowed) return refuse(401, 'alg', 'The id_token must be signed with RS256.');
    if (err instanceof errors.JOSEError) return refuse(401, 'signature', `The id_token does not verify (${err.code}).`);
    return refuse(400, 'id_token', 'The id_token could not be read.');
  }
}
