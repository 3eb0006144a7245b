// LTI Advantage service calls from the tool to the platform: OAuth2 client-credentials access tokens with a
// private_key_jwt assertion (cached until shortly before expiry), NRPS memberships (paged by Link rel="next"),
// AGS line items and scores. Thin: HTTP in, typed values out; errors carry the HTTP status for the outbox.

import type { Platform } from '../domain/records.js';
import type { ToolKeys } from './keys.js';
import { serviceUrlRefusal } from './platforms.js';

/** The platform's bearer token goes only to its own hosts over https (a forged or odd claim could name any URL). */
function allowed(p: Platform, url: string): void {
  const why = serviceUrlRefusal(p, url);
  if (why) throw new ServiceError(`refusing to call ${url.slice(0, 200)}: ${why}`, 400);
}

export class ServiceError extends Error {
  constructor(message: string, readonly status: number | null) {
    super(message);
  }
  /** 4xx other than 408/429 will not get better by retrying. */
  get permanent(): boolean {
    return this.status !== null && this.status >= 400 && this.status < 500 && this.status !== 408 && this.status !== 429 && this.status !== 401;
  }
}

export interface Member {
  userId: string;
  name: string;
  email: string | null;
  roles: string[];
  status: string;
}

export interface ScoreBody {
  userId: string;
  scoreGiven: number;
  scoreMaximum: number;
  comment: string;
  timestamp: string;
  activityProgress: 'Completed' | 'Initialized' | 'Started' | 'InProgress' | 'Submitted';
  gradingProgress: 'FullyGraded' | 'Pending' | 'PendingManual' | 'Failed' | 'NotReady';
}

const TIMEOUT_MS = 10000;

async function call(url: string, init: RequestInit): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(TIMEOUT_MS), redirect: 'error' });
  } catch (err) {
    throw new ServiceError(`${init.method ?? 'GET'} ${url}: ${err instanceof Error ? err.message : String(err)}`, null);
  }
  if (!res.ok) {
    const text = (await res.text().catch(() => '')).slice(0, 200);
    throw new ServiceError(`${init.method ?? 'GET'} ${url}: HTTP ${res.status} ${text}`, res.status);
  }
  return res;
}

export class PlatformServices {
  private readonly tokens = new Map<string, { token: string; until: number }>();

  constructor(private readonly keys: ToolKeys, private readonly now: () => number = Date.now) {}

  async accessToken(p: Platform, scopes: readonly string[]): Promise<string> {
    const cacheKey = `${p.id} ${[...scopes].sort().join(' ')}`;
    const cached = this.tokens.get(cacheKey);
    if (cached && cached.until > this.now()) return cached.token;
    const assertion = await this.keys.sign({ iss: p.clientId, sub: p.clientId, aud: p.tokenUrl }, 300);
    const body = new URLSearchParams({
      grant_type: 'client_credentials',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
      scope: scopes.join(' '),
    });
    const res = await call(p.tokenUrl, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' }, body });
    const j = await res.json().catch(() => null) as { access_token?: unknown; expires_in?: unknown } | null;
    if (!j || typeof j.access_token !== 'string') throw new ServiceError(`token endpoint ${p.tokenUrl} answered no access_token`, null);
    const ttl = typeof j.expires_in === 'number' && j.expires_in > 0 ? j.expires_in : 3600;
    // Renew a minute early so a token never expires between being read here and used.
    this.tokens.set(cacheKey, { token: j.access_token, until: this.now() + Math.max(0, ttl - 60) * 1000 });
    return j.access_token;
  }

  /** Every member of the course, following rel="next" pages (at most 100 pages). */
  async members(p: Platform, url: string, scope: string): Promise<Member[]> {
    allowed(p, url);
    const token = await this.accessToken(p, [scope]);
    const out: Member[] = [];
    let next: string | null = url;
    for (let page = 0; next && page < 100; page++) {
      allowed(p, next);
      const res = await call(next, { headers: { Authorization: `Bearer ${token}`, Accept: 'application/vnd.ims.lti-nrps.v2.membershipcontainer+json' } });
      const j = await res.json().catch(() => null) as { members?: unknown } | null;
      if (!j || !Array.isArray(j.members)) throw new ServiceError(`memberships at ${next} are not a membership container`, null);
      for (const m of j.members as Record<string, unknown>[]) {
        if (typeof m.user_id !== 'string') continue;
        const given = [m.given_name, m.family_name].filter((x) => typeof x === 'string').join(' ');
        out.push({
          userId: m.user_id, name: (typeof m.name === 'string' && m.name) || given || (typeof m.email === 'string' ? m.email : m.user_id),
          email: typeof m.email === 'string' ? m.email : null,
          roles: Array.isArray(m.roles) ? m.roles.filter((r): r is string => typeof r === 'string') : [],
          status: typeof m.status === 'string' ? m.status : 'Active',
        });
      }
      next = nextLink(res.headers.get('link'), next);
    }
    return out;
  }

  /** The line item for a class: found by resourceId, else created. Returns its URL. */
  async lineItem(p: Platform, lineItems: string, scope: string, item: { resourceId: string; label: string; scoreMaximum: number; resourceLinkId?: string }): Promise<string> {
    allowed(p, lineItems);
    const token = await this.accessToken(p, [scope]);
    const find = new URL(lineItems);
    find.searchParams.set('resource_id', item.resourceId);
    const res = await call(find.toString(), { headers: { Authorization: `Bearer ${token}`, Accept: 'application/vnd.ims.lis.v2.lineitemcontainer+json' } });
    const list = await res.json().catch(() => null) as unknown;
    if (Array.isArray(list)) {
      const hit = (list as { id?: unknown; resourceId?: unknown }[]).find((l) => l.resourceId === item.resourceId && typeof l.id === 'string');
      if (hit) return hit.id as string;
    }
    const created = await call(lineItems, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/vnd.ims.lis.v2.lineitem+json', Accept: 'application/vnd.ims.lis.v2.lineitem+json' },
      body: JSON.stringify({ scoreMaximum: item.scoreMaximum, label: item.label, resourceId: item.resourceId, tag: 'attendance', ...(item.resourceLinkId ? { resourceLinkId: item.resourceLinkId } : {}) }),
    });
    const j = await created.json().catch(() => null) as { id?: unknown } | null;
    if (!j || typeof j.id !== 'string') throw new ServiceError(`creating a line item at ${lineItems} answered no id`, null);
    return j.id;
  }

  async postScore(p: Platform, lineItemUrl: string, scope: string, score: ScoreBody): Promise<void> {
    allowed(p, lineItemUrl);
    const token = await this.accessToken(p, [scope]);
    const u = new URL(lineItemUrl);
    u.pathname = `${u.pathname.replace(/\/$/, '')}/scores`;
    await call(u.toString(), {
      method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/vnd.ims.lis.v1.score+json' }, body: JSON.stringify(score),
    });
  }
}

/** The rel="next" URL of a Link header, resolved against the page it came with. */
export function nextLink(header: string | null, base: string): string | null {
  if (!header) return null;
  for (const part of header.split(',')) {
    const m = /<([^>]+)>\s*;(.*)$/.exec(part.trim());
    if (m && /\brel\s*=\s*"?next"?/i.test(m[2]!)) {
      try {
        return new URL(m[1]!, base).toString();
      } catch {
        return null;
      }
    }
  }
  return null;
}
