// Repository for the LTI 1.3 tool: registered platforms and deployments, the tool's signing keys, login state
// and used nonces (server-side, so a launch works inside an iframe without cookies), resource links, and the
// passback outbox. SQL for these tables lives here and nowhere else.

import { ConflictError, NotFoundError } from '../../domain/errors.js';
import type { Db } from './db.js';
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
  constructor(private readonly db: Db) {}

  private toPlatform(r: PlatformRow): Platform {
    const deps = this.db.prepare('SELECT deployment_id FROM lti_deployments WHERE platform_id = ? ORDER BY deployment_id').all(r.id) as { deployment_id: string }[];
    return {
      id: r.id, issuer: r.issuer, clientId: r.client_id, authUrl: r.auth_url, tokenUrl: r.token_url, jwksUrl: r.jwks_url,
      deploymentIds: deps.map((d) => d.deployment_id), serviceHosts: r.service_hosts ? r.service_hosts.split(',') : [], createdAt: r.created_at,
    };
  }

  addPlatform(p: NewPlatform): Platform {
    const tx = this.db.transaction(() => {
      let id: number;
      try {
        id = Number(this.db.prepare(`INSERT INTO lti_platforms (issuer, client_id, auth_url, token_url, jwks_url, service_hosts, created_at)
          VALUES (?, ?, ?, ?, ?, ?, ?)`).run(p.issuer, p.clientId, p.authUrl, p.tokenUrl, p.jwksUrl, (p.serviceHosts ?? []).join(','), new Date().toISOString()).lastInsertRowid);
      } catch (err) {
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
          throw new ConflictError(`a platform with issuer ${p.issuer} and client id ${p.clientId} is already registered`);
        }
        throw err;
      }
      const add = this.db.prepare('INSERT OR IGNORE INTO lti_deployments (platform_id, deployment_id) VALUES (?, ?)');
      for (const d of p.deploymentIds) add.run(id, d);
      return id;
    });
    return this.platform(tx());
  }

  addServiceHost(platformId: number, host: string): Platform {
    const p = this.platform(platformId);
    const hosts = [...new Set([...p.serviceHosts, host])];
    this.db.prepare('UPDATE lti_platforms SET service_hosts = ? WHERE id = ?').run(hosts.join(','), platformId);
    return this.platform(platformId);
  }

  addDeployment(platformId: number, deploymentId: string): void {
    this.db.prepare('INSERT OR IGNORE INTO lti_deployments (platform_id, deployment_id) VALUES (?, ?)').run(platformId, deploymentId);
  }

  findPlatform(id: number): Platform | undefined {
    const r = this.db.prepare('SELECT * FROM lti_platforms WHERE id = ?').get(id) as PlatformRow | undefined;
    return r && this.toPlatform(r);
  }

  platform(id: number): Platform {
    const p = this.findPlatform(id);
    if (!p) throw new NotFoundError(`no LTI platform with id ${id} (see: kmk-live lti platform list)`);
    return p;
  }

  platformsByIssuer(issuer: string): Platform[] {
    return (this.db.prepare('SELECT * FROM lti_platforms WHERE issuer = ? ORDER BY id').all(issuer) as PlatformRow[]).map((r) => this.toPlatform(r));
  }

  platforms(): Platform[] {
    return (this.db.prepare('SELECT * FROM lti_platforms ORDER BY id').all() as PlatformRow[]).map((r) => this.toPlatform(r));
  }

  removePlatform(id: number): void {
    const info = this.db.prepare('DELETE FROM lti_platforms WHERE id = ?').run(id);
    if (info.changes === 0) throw new NotFoundError(`no LTI platform with id ${id} (see: kmk-live lti platform list)`);
  }

  // Tool keys -------------------------------------------------------------------------------------------------

  keys(): ToolKey[] {
    return (this.db.prepare('SELECT * FROM lti_keys ORDER BY created_at DESC, rowid DESC').all() as
      { kid: string; private_jwk: string; public_jwk: string; created_at: number; retired_at: number | null }[])
      .map((r) => ({ kid: r.kid, privateJwk: r.private_jwk, publicJwk: r.public_jwk, createdAt: r.created_at, retiredAt: r.retired_at }));
  }

  /** Makes `key` the active key; the previous active one is retired at `now` (kept in the JWKS for a while). */
  addKey(key: Omit<ToolKey, 'retiredAt'>): void {
    this.db.transaction(() => {
      this.db.prepare('UPDATE lti_keys SET retired_at = ? WHERE retired_at IS NULL').run(key.createdAt);
      this.db.prepare('INSERT INTO lti_keys (kid, private_jwk, public_jwk, created_at) VALUES (?, ?, ?, ?)').run(key.kid, key.privateJwk, key.publicJwk, key.createdAt);
    })();
  }

  dropKeysRetiredBefore(at: number): number {
    return this.db.prepare('DELETE FROM lti_keys WHERE retired_at IS NOT NULL AND retired_at < ?').run(at).changes;
  }

  // Login state and nonces ----------------------------------------------------------------------------------

  private loginSweepAt = 0;
  private pendingLogins = -1;

  /** Stores a login's state; false (nothing stored) when `max` logins are already pending. Expired ones are swept
   * at most once a second (an indexed delete), and the pending count is kept here between sweeps. */
  saveLogin(l: LoginState, now = Date.now(), max = Infinity): boolean {
    if (now - this.loginSweepAt >= 1000 || this.pendingLogins < 0) {
      this.loginSweepAt = now;
      this.db.prepare('DELETE FROM lti_logins WHERE expires_at < ?').run(now);
      this.pendingLogins = (this.db.prepare('SELECT COUNT(*) AS n FROM lti_logins').get() as { n: number }).n;
    }
    if (this.pendingLogins >= max) return false;
    this.db.prepare('INSERT INTO lti_logins (state, nonce, platform_id, storage_target, expires_at, binding) VALUES (?, ?, ?, ?, ?, ?)')
      .run(l.state, l.nonce, l.platformId, l.storageTarget, l.expiresAt, l.binding);
    this.pendingLogins += 1;
    return true;
  }

  /** Returns the login for a state and deletes it: a state is good for one launch. */
  takeLogin(state: string, now: number): LoginState | undefined {
    const r = this.db.prepare('DELETE FROM lti_logins WHERE state = ? RETURNING *').get(state) as
      { state: string; nonce: string; platform_id: number; storage_target: string | null; expires_at: number; binding: string | null } | undefined;
    if (r && this.pendingLogins > 0) this.pendingLogins -= 1;
    if (!r || r.expires_at < now) return undefined;
    return { state: r.state, nonce: r.nonce, platformId: r.platform_id, storageTarget: r.storage_target, expiresAt: r.expires_at, binding: r.binding ?? '' };
  }

  /**
   * The gradebook columns of a course's activities that are not pinned to one class (added without deep linking):
   * where the course's attendance goes instead of a column per class. A column some class already writes is not one.
   */
  courseLinkLineItems(courseId: number): string[] {
    return (this.db.prepare(`SELECT DISTINCT line_item_url AS u FROM lti_links
      WHERE course_id = ? AND class_id IS NULL AND line_item_url IS NOT NULL
        AND line_item_url NOT IN (SELECT line_item_url FROM classes WHERE course_id = ? AND line_item_url IS NOT NULL)
      ORDER BY line_item_url`).all(courseId, courseId) as { u: string }[]).map((r) => r.u);
  }

  /** Records a nonce; false when it was seen before (a replayed id_token). */
  useNonce(nonce: string, expiresAt: number, now: number): boolean {
    this.db.prepare('DELETE FROM lti_nonces WHERE expires_at < ?').run(now);
    return this.db.prepare('INSERT OR IGNORE INTO lti_nonces (nonce, expires_at) VALUES (?, ?)').run(nonce, expiresAt).changes === 1;
  }

  // Resource links ------------------------------------------------------------------------------------------

  /** `classId`: the class a deep-linked activity is pinned to (its launch names it). */
  saveLink(platformId: number, resourceLinkId: string, courseId: number, lineItemUrl: string | null, classId: number | null = null): void {
    this.db.prepare(`INSERT INTO lti_links (platform_id, resource_link_id, course_id, line_item_url, class_id) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (platform_id, resource_link_id) DO UPDATE SET course_id = excluded.course_id,
      line_item_url = COALESCE(excluded.line_item_url, lti_links.line_item_url),
      class_id = COALESCE(excluded.class_id, lti_links.class_id)`).run(platformId, resourceLinkId, courseId, lineItemUrl, classId);
  }

  link(platformId: number, resourceLinkId: string): { courseId: number; classId: number | null; lineItemUrl: string | null } | undefined {
    const r = this.db.prepare('SELECT course_id, class_id, line_item_url FROM lti_links WHERE platform_id = ? AND resource_link_id = ?')
      .get(platformId, resourceLinkId) as { course_id: number; class_id: number | null; line_item_url: string | null } | undefined;
    return r && { courseId: r.course_id, classId: r.class_id, lineItemUrl: r.line_item_url };
  }

  // Outbox --------------------------------------------------------------------------------------------------

  /** Adds an item unless one with the same key exists (so nothing is queued, or posted, twice). */
  enqueue(item: { key: string; kind: 'passback' | 'score'; classId: number; payload: string }, now: number): boolean {
    return this.db.prepare(`INSERT OR IGNORE INTO lti_outbox (key, kind, class_id, payload, status, next_at, created_at)
      VALUES (?, ?, ?, ?, 'pending', ?, ?)`).run(item.key, item.kind, item.classId, item.payload, now, now).changes === 1;
  }

  due(now: number, limit: number): OutboxItem[] {
    return (this.db.prepare("SELECT * FROM lti_outbox WHERE status = 'pending' AND next_at <= ? ORDER BY next_at, id LIMIT ?")
      .all(now, limit) as OutboxRow[]).map(toOutbox);
  }

  nextDueAt(): number | undefined {
    const r = this.db.prepare("SELECT MIN(next_at) AS at FROM lti_outbox WHERE status = 'pending'").get() as { at: number | null };
    return r.at ?? undefined;
  }

  done(id: number, now: number): void {
    this.db.prepare("UPDATE lti_outbox SET status = 'done', done_at = ?, last_error = NULL WHERE id = ?").run(now, id);
  }

  retry(id: number, error: string, nextAt: number, giveUp: boolean): void {
    this.db.prepare('UPDATE lti_outbox SET attempts = attempts + 1, last_error = ?, next_at = ?, status = ? WHERE id = ?')
      .run(error.slice(0, 500), nextAt, giveUp ? 'failed' : 'pending', id);
  }

  /** Items still to send (for /metrics). */
  pendingCount(): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM lti_outbox WHERE status = 'pending'").get() as { n: number }).n;
  }

  outbox(opts: { all?: boolean } = {}): OutboxItem[] {
    const sql = opts.all ? 'SELECT * FROM lti_outbox ORDER BY id' : "SELECT * FROM lti_outbox WHERE status != 'done' ORDER BY id";
    return (this.db.prepare(sql).all() as OutboxRow[]).map(toOutbox);
  }
}
