// Repository for the LTI 1.3 tool: registered platforms and deployments, the tool's signing keys, login state
// and used nonces (server-side, so a launch works inside an iframe without cookies), resource links, and the
// passback outbox. SQL for these tables lives here and nowhere else.

import { ConflictError, NotFoundError } from '../../domain/errors.js';
import { get, all, run, tx, isUniqueViolation, type Work } from './query.js';
import type { Platform, NewPlatform, ToolKey, LoginState, OutboxItem } from '../../domain/records.js';

interface PlatformRow {
  id: number;
  issuer: string;
  client_id: string;
  auth_url: string;
  token_url: string;
  jwks_url: string;
  service_hosts: string;
  created_at: string;
}

interface OutboxRow {
  id: number;
  key: string;
  kind: 'passback' | 'score';
  class_id: number;
  payload: string;
  status: 'pending' | 'done' | 'failed';
  attempts: number;
  next_at: number;
  last_error: string | null;
  created_at: number;
  done_at: number | null;
}

const toOutbox = (r: OutboxRow): OutboxItem => ({
  id: r.id, key: r.key, kind: r.kind, classId: r.class_id, payload: r.payload, status: r.status, attempts: r.attempts,
  nextAt: r.next_at, lastError: r.last_error, createdAt: r.created_at, doneAt: r.done_at,
});

export class LtiRepo {
  private *toPlatforms(rows: PlatformRow[]): Work<Platform[]> {
    const out: Platform[] = [];
    for (const r of rows) out.push(yield* this.toPlatform(r));
    return out;
  }

  private *toPlatform(r: PlatformRow): Work<Platform> {
    const deps = (yield* all('SELECT deployment_id FROM lti_deployments WHERE platform_id = ? ORDER BY deployment_id', r.id)) as { deployment_id: string }[];
    return {
      id: r.id, issuer: r.issuer, clientId: r.client_id, authUrl: r.auth_url, tokenUrl: r.token_url, jwksUrl: r.jwks_url,
      deploymentIds: deps.map((d) => d.deployment_id), serviceHosts: r.service_hosts ? r.service_hosts.split(',') : [], createdAt: r.created_at,
    };
  }

  *addPlatform(p: NewPlatform): Work<Platform> {
    const id = yield* tx(function* () {
      let id: number;
      try {
        ({ id } = (yield* get(`INSERT INTO lti_platforms (issuer, client_id, auth_url, token_url, jwks_url, service_hosts, created_at)
          VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`, p.issuer, p.clientId, p.authUrl, p.tokenUrl, p.jwksUrl, (p.serviceHosts ?? []).join(','), new Date().toISOString())) as { id: number });
      } catch (err) {
        if (isUniqueViolation(err)) {
          throw new ConflictError(`a platform with issuer ${p.issuer} and client id ${p.clientId} is already registered`);
        }
        throw err;
      }
      for (const d of p.deploymentIds) yield* run('INSERT INTO lti_deployments (platform_id, deployment_id) VALUES (?, ?) ON CONFLICT DO NOTHING', id, d);
      return id;
    });
    return yield* this.platform(id);
  }

  *addServiceHost(platformId: number, host: string): Work<Platform> {
    const p = yield* this.platform(platformId);
    const hosts = [...new Set([...p.serviceHosts, host])];
    yield* run('UPDATE lti_platforms SET service_hosts = ? WHERE id = ?', hosts.join(','), platformId);
    return yield* this.platform(platformId);
  }

  *addDeployment(platformId: number, deploymentId: string): Work<void> {
    yield* run('INSERT INTO lti_deployments (platform_id, deployment_id) VALUES (?, ?) ON CONFLICT DO NOTHING', platformId, deploymentId);
  }

  *findPlatform(id: number): Work<Platform | undefined> {
    const r = (yield* get('SELECT * FROM lti_platforms WHERE id = ?', id)) as PlatformRow | undefined;
    return r && (yield* this.toPlatform(r));
  }

  *platform(id: number): Work<Platform> {
    const p = yield* this.findPlatform(id);
    if (!p) throw new NotFoundError(`no LTI platform with id ${id} (see: kmk-live lti platform list)`);
    return p;
  }

  *platformsByIssuer(issuer: string): Work<Platform[]> {
    return yield* this.toPlatforms((yield* all('SELECT * FROM lti_platforms WHERE issuer = ? ORDER BY id', issuer)) as PlatformRow[]);
  }

  *platforms(): Work<Platform[]> {
    return yield* this.toPlatforms((yield* all('SELECT * FROM lti_platforms ORDER BY id')) as PlatformRow[]);
  }

  *removePlatform(id: number): Work<void> {
    if ((yield* run('DELETE FROM lti_platforms WHERE id = ?', id)) === 0) throw new NotFoundError(`no LTI platform with id ${id} (see: kmk-live lti platform list)`);
  }

  // Tool keys -------------------------------------------------------------------------------------------------

  *keys(): Work<ToolKey[]> {
    return ((yield* all('SELECT * FROM lti_keys ORDER BY created_at DESC, rowid DESC')) as
      { kid: string; private_jwk: string; public_jwk: string; created_at: number; retired_at: number | null }[])
      .map((r) => ({ kid: r.kid, privateJwk: r.private_jwk, publicJwk: r.public_jwk, createdAt: r.created_at, retiredAt: r.retired_at }));
  }

  /** Makes `key` the active key; the previous active one is retired at `now` (kept in the JWKS for a while). */
  *addKey(key: Omit<ToolKey, 'retiredAt'>): Work<void> {
    yield* tx(function* () {
      yield* run('UPDATE lti_keys SET retired_at = ? WHERE retired_at IS NULL', key.createdAt);
      yield* run('INSERT INTO lti_keys (kid, private_jwk, public_jwk, created_at) VALUES (?, ?, ?, ?)', key.kid, key.privateJwk, key.publicJwk, key.createdAt);
    });
  }

  *dropKeysRetiredBefore(at: number): Work<number> {
    return (yield* run('DELETE FROM lti_keys WHERE retired_at IS NOT NULL AND retired_at < ?', at));
  }

  // Login state and nonces ----------------------------------------------------------------------------------

  private loginSweepAt = 0;
  private pendingLogins = -1;

  /** Stores a login's state; false (nothing stored) when `max` logins are already pending. Expired ones are swept
   * at most once a second (an indexed delete), and the pending count is kept here between sweeps. */
  *saveLogin(l: LoginState, now = Date.now(), max = Infinity): Work<boolean> {
    if (now - this.loginSweepAt >= 1000 || this.pendingLogins < 0) {
      this.loginSweepAt = now;
      yield* run('DELETE FROM lti_logins WHERE expires_at < ?', now);
      this.pendingLogins = ((yield* get('SELECT COUNT(*) AS n FROM lti_logins')) as { n: number }).n;
    }
    if (this.pendingLogins >= max) return false;
    yield* run('INSERT INTO lti_logins (state, nonce, platform_id, storage_target, expires_at, binding) VALUES (?, ?, ?, ?, ?, ?)', l.state, l.nonce, l.platformId, l.storageTarget, l.expiresAt, l.binding);
    this.pendingLogins += 1;
    return true;
  }

  /** Returns the login for a state and deletes it: a state is good for one launch. */
  *takeLogin(state: string, now: number): Work<LoginState | undefined> {
    const r = (yield* get('DELETE FROM lti_logins WHERE state = ? RETURNING *', state)) as
      { state: string; nonce: string; platform_id: number; storage_target: string | null; expires_at: number; binding: string | null } | undefined;
    if (r && this.pendingLogins > 0) this.pendingLogins -= 1;
    if (!r || r.expires_at < now) return undefined;
    return { state: r.state, nonce: r.nonce, platformId: r.platform_id, storageTarget: r.storage_target, expiresAt: r.expires_at, binding: r.binding ?? '' };
  }

  /**
   * The gradebook columns of a course's activities that are not pinned to one class (added without deep linking):
   * where the course's attendance goes instead of a column per class. A column some class already writes is not one.
   */
  *courseLinkLineItems(courseId: number): Work<string[]> {
    return ((yield* all(`SELECT DISTINCT line_item_url AS u FROM lti_links
      WHERE course_id = ? AND class_id IS NULL AND line_item_url IS NOT NULL
        AND line_item_url NOT IN (SELECT line_item_url FROM classes WHERE course_id = ? AND line_item_url IS NOT NULL)
      ORDER BY line_item_url`, courseId, courseId)) as { u: string }[]).map((r) => r.u);
  }

  /** Records a nonce; false when it was seen before (a replayed id_token). */
  *useNonce(nonce: string, expiresAt: number, now: number): Work<boolean> {
    yield* run('DELETE FROM lti_nonces WHERE expires_at < ?', now);
    return (yield* run('INSERT INTO lti_nonces (nonce, expires_at) VALUES (?, ?) ON CONFLICT DO NOTHING', nonce, expiresAt)) === 1;
  }

  // Resource links ------------------------------------------------------------------------------------------

  /** `classId`: the class a deep-linked activity is pinned to (its launch names it). */
  *saveLink(platformId: number, resourceLinkId: string, courseId: number, lineItemUrl: string | null, classId: number | null = null): Work<void> {
    (yield* run(`INSERT INTO lti_links (platform_id, resource_link_id, course_id, line_item_url, class_id) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (platform_id, resource_link_id) DO UPDATE SET course_id = excluded.course_id,
      line_item_url = COALESCE(excluded.line_item_url, lti_links.line_item_url),
      class_id = COALESCE(excluded.class_id, lti_links.class_id)`, platformId, resourceLinkId, courseId, lineItemUrl, classId));
  }

  *link(platformId: number, resourceLinkId: string): Work<{ courseId: number; classId: number | null; lineItemUrl: string | null } | undefined> {
    const r = (yield* get('SELECT course_id, class_id, line_item_url FROM lti_links WHERE platform_id = ? AND resource_link_id = ?', platformId, resourceLinkId)) as { course_id: number; class_id: number | null; line_item_url: string | null } | undefined;
    return r && { courseId: r.course_id, classId: r.class_id, lineItemUrl: r.line_item_url };
  }

  // Outbox --------------------------------------------------------------------------------------------------

  /** Adds an item unless one with the same key exists (so nothing is queued, or posted, twice). */
  *enqueue(item: { key: string; kind: 'passback' | 'score'; classId: number; payload: string }, now: number): Work<boolean> {
    return (yield* run(`INSERT INTO lti_outbox (key, kind, class_id, payload, status, next_at, created_at)
      VALUES (?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT DO NOTHING`, item.key, item.kind, item.classId, item.payload, now, now)) === 1;
  }

  *due(now: number, limit: number): Work<OutboxItem[]> {
    return ((yield* all("SELECT * FROM lti_outbox WHERE status = 'pending' AND next_at <= ? ORDER BY next_at, id LIMIT ?", now, limit)) as OutboxRow[]).map(toOutbox);
  }

  *nextDueAt(): Work<number | undefined> {
    const r = (yield* get("SELECT MIN(next_at) AS at FROM lti_outbox WHERE status = 'pending'")) as { at: number | null };
    return r.at ?? undefined;
  }

  *done(id: number, now: number): Work<void> {
    yield* run("UPDATE lti_outbox SET status = 'done', done_at = ?, last_error = NULL WHERE id = ?", now, id);
  }

  *retry(id: number, error: string, nextAt: number, giveUp: boolean): Work<void> {
    yield* run('UPDATE lti_outbox SET attempts = attempts + 1, last_error = ?, next_at = ?, status = ? WHERE id = ?', error.slice(0, 500), nextAt, giveUp ? 'failed' : 'pending', id);
  }

  /** Items still to send (for /metrics). */
  *pendingCount(): Work<number> {
    return ((yield* get("SELECT COUNT(*) AS n FROM lti_outbox WHERE status = 'pending'")) as { n: number }).n;
  }

  *outbox(opts: { all?: boolean } = {}): Work<OutboxItem[]> {
    const sql = opts.all ? 'SELECT * FROM lti_outbox ORDER BY id' : "SELECT * FROM lti_outbox WHERE status != 'done' ORDER BY id";
    return ((yield* all(sql)) as OutboxRow[]).map(toOutbox);
  }
}
