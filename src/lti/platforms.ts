// Checks a platform registration (from the CLI or the REST API) into typed values. Pure.

import { ValidationError } from '../domain/errors.js';
import type { NewPlatform } from '../store/lti.js';

const url = (name: string, v: unknown, httpsOnly: boolean): string => {
  if (typeof v !== 'string' || v.length === 0 || v.length > 500) throw new ValidationError(`${name}: a URL is required`);
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new ValidationError(`${name}: ${JSON.stringify(v.slice(0, 100))} is not a URL`);
  }
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(u.hostname);
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && (loopback || !httpsOnly))) {
    throw new ValidationError(`${name}: must be https:// (plain http only for localhost)`);
  }
  return v;
};

export function parsePlatform(r: { issuer: unknown; clientId: unknown; authUrl: unknown; tokenUrl: unknown; jwksUrl: unknown; deploymentIds: unknown }): NewPlatform {
  const issuer = url('issuer', r.issuer, false);
  if (typeof r.clientId !== 'string' || !/^[\x21-\x7e]{1,255}$/.test(r.clientId)) throw new ValidationError('clientId: the client id the LMS gave this tool (1-255 printable characters)');
  const deps = r.deploymentIds === undefined ? [] : r.deploymentIds;
  if (!Array.isArray(deps) || !deps.every((x) => typeof x === 'string' && /^[\x21-\x7e]{1,255}$/.test(x))) {
    throw new ValidationError('deploymentIds: a list of deployment ids (1-255 printable characters each)');
  }
  return {
    issuer, clientId: r.clientId, authUrl: url('authUrl', r.authUrl, true), tokenUrl: url('tokenUrl', r.tokenUrl, true),
    jwksUrl: url('jwksUrl', r.jwksUrl, true), deploymentIds: [...new Set(deps as string[])],
  };
}

/** The frame-ancestors list: the configured one plus the origin of every registered platform (the LMS frames us). */
export function frameAncestorsOf(configured: string, platforms: { issuer: string; authUrl: string }[]): string {
  const origins = new Set<string>();
  for (const p of platforms) {
    for (const u of [p.issuer, p.authUrl]) {
      try {
        origins.add(new URL(u).origin);
      } catch {
        // registration checked the URLs; nothing to add
      }
    }
  }
  return [configured, ...origins].join(' ');
}
