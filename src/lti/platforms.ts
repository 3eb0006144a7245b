// Checks a platform registration (from the CLI or the REST API) into typed values. Pure.

import { ValidationError } from '../domain/errors.js';
import type { NewPlatform, Platform } from '../domain/records.js';

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

/** A host name for a platform's services: lower-case DNS name (or IP address), no scheme, port or path. */
export function parseServiceHost(v: unknown): string {
  if (typeof v !== 'string' || !/^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?)*$/i.test(v)) {
    throw new ValidationError(`service host ${JSON.stringify(String(v).slice(0, 100))}: a host name like learn.school.edu (no https://, port or path)`);
  }
  return v.toLowerCase();
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Second-level names under which anyone can register (so never a platform's own domain). Not exhaustive. */
const SHARED_SUFFIXES = new Set(['co.uk', 'ac.uk', 'org.uk', 'gov.uk', 'com.au', 'edu.au', 'net.au', 'org.au', 'co.nz', 'ac.nz',
  'co.jp', 'ac.jp', 'com.br', 'edu.br', 'co.za', 'ac.za', 'co.in', 'ac.in', 'edu.in', 'com.cn', 'edu.cn', 'com.mx', 'edu.mx',
  'com.tr', 'edu.tr', 'com.sg', 'edu.sg', 'com.hk', 'edu.hk', 'co.kr', 'ac.kr']);

/** canvas.instructure.com → instructure.com; undefined when the parent would be a TLD or a shared suffix. */
function parentDomain(host: string): string | undefined {
  if (/^[\d.]+$/.test(host) || host.includes(':')) return undefined;
  const labels = host.split('.');
  if (labels.length < 3) return undefined;
  const parent = labels.slice(1).join('.');
  return SHARED_SUFFIXES.has(parent) ? undefined : parent;
}

/**
 * Why the tool must not send the platform's bearer token to a service URL an id_token named (null: it may): it
 * must be https on a host of the registration (issuer, auth, token or JWKS URL, or a subdomain of one) or a listed
 * service host; plain http only to a loopback host the registration itself uses. Pure.
 */
export function serviceUrlRefusal(p: Pick<Platform, 'issuer' | 'authUrl' | 'tokenUrl' | 'jwksUrl' | 'serviceHosts'>, raw: string): string | null {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return 'not a URL';
  }
  const own = [p.issuer, p.authUrl, p.tokenUrl, p.jwksUrl].flatMap((x) => {
    try {
      return [new URL(x).hostname.toLowerCase()];
    } catch {
      return [];
    }
  });
  const host = u.hostname.toLowerCase();
  if (u.protocol === 'http:') return LOOPBACK.has(host) && own.includes(host) ? null : 'not https';
  if (u.protocol !== 'https:') return 'not https';
  if (u.username || u.password) return 'credentials in the URL';
  // A cloud LMS names one issuer for all its schools and serves each school on a sibling host
  // (canvas.instructure.com → school.instructure.com): the issuer's parent domain counts, unless it is a public suffix.
  const issuerParent = parentDomain(own[0] ?? '');
  const domains = [...own.filter((h) => !LOOPBACK.has(h)), ...(issuerParent ? [issuerParent] : [])];
  const ok = domains.some((d) => host === d || host.endsWith(`.${d}`)) || own.includes(host) || p.serviceHosts.includes(host);
  return ok ? null : `${host} is not a host of this platform's registration (add it: kmk-live lti platform service-host <id> ${host})`;
}

function serviceHostsOf(v: unknown): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.length > 20) throw new ValidationError('serviceHosts: a list of at most 20 host names');
  return [...new Set(v.map(parseServiceHost))];
}

export function parsePlatform(r: { issuer: unknown; clientId: unknown; authUrl: unknown; tokenUrl: unknown; jwksUrl: unknown; deploymentIds: unknown; serviceHosts?: unknown }): NewPlatform {
  const issuer = url('issuer', r.issuer, false);
  if (typeof r.clientId !== 'string' || !/^[\x21-\x7e]{1,255}$/.test(r.clientId)) throw new ValidationError('clientId: the client id the LMS gave this tool (1-255 printable characters)');
  const deps = r.deploymentIds === undefined ? [] : r.deploymentIds;
  if (!Array.isArray(deps) || !deps.every((x) => typeof x === 'string' && /^[\x21-\x7e]{1,255}$/.test(x))) {
    throw new ValidationError('deploymentIds: a list of deployment ids (1-255 printable characters each)');
  }
  return {
    issuer, clientId: r.clientId, authUrl: url('authUrl', r.authUrl, true), tokenUrl: url('tokenUrl', r.tokenUrl, true),
    jwksUrl: url('jwksUrl', r.jwksUrl, true), deploymentIds: [...new Set(deps as string[])],
    serviceHosts: serviceHostsOf(r.serviceHosts),
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
