// Repository for the boxes sharing a store: each box's row with a lease it renews (its heartbeat), named leases for
// work that must run on one box at a time (the LTI outbox, retention, recovering a dead box's classes), and each
// live channel's claim (one class, one box). On the embedded file there is one box and the same rows.

import { get, all, run, type Work } from './query.js';
import { deadBoxReason } from './sessions.js';

export interface NodeRow {
  name: string;
  /** The box's public base URL (publicUrl), where learners and redirects go. */
  url: string;
  /** Where an instructor pushes to on this box (rtmp://host:port/live). */
  rtmp: string;
  startedAt: number;
  seenAt: number;
  leaseUntil: number;
  /** What the box last said of itself (budget used and total, classes); JSON. */
  load: string;
}

export interface ClaimRow { channelId: number; node: string; sessionId: string; until: number }

const toNode = (r: { name: string; url: string; rtmp: string; started_at: number; seen_at: number; lease_until: number; load: string }): NodeRow => ({
  name: r.name, url: r.url, rtmp: r.rtmp, startedAt: r.started_at, seenAt: r.seen_at, leaseUntil: r.lease_until, load: r.load,
});

export class NodeRepo {
  /** The box's heartbeat: its row, renewed for `ms`. */
  *beat(n: { name: string; url: string; rtmp: string; startedAt: number }, load: string, now: number, ms: number): Work<void> {
    yield* run(`INSERT INTO nodes (name, url, rtmp, started_at, seen_at, lease_until, load) VALUES (?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (name) DO UPDATE SET url = excluded.url, rtmp = excluded.rtmp, started_at = excluded.started_at, seen_at = excluded.seen_at,
        lease_until = excluded.lease_until, load = excluded.load`, n.name, n.url, n.rtmp, n.startedAt, now, now + ms, load);
  }

  /** A box stopping cleanly: its lease ends now and its claims go. */
  *leave(name: string, now: number): Work<void> {
    yield* run('UPDATE nodes SET lease_until = ? WHERE name = ?', now, name);
    yield* run('DELETE FROM channel_claims WHERE node = ?', name);
  }

  *list(): Work<NodeRow[]> {
    return ((yield* all('SELECT * FROM nodes ORDER BY name')) as Parameters<typeof toNode>[0][]).map(toNode);
  }

  /** Takes (or renews) the lease `name` for `holder` until now + ms; false while another holder's lease runs. */
  *tryLease(name: string, holder: string, now: number, ms: number): Work<boolean> {
    return (yield* run(`INSERT INTO leases (name, holder, until) VALUES (?, ?, ?)
      ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
      WHERE leases.until < ? OR leases.holder = excluded.holder`, name, holder, now + ms, now)) === 1;
  }

  *releaseLease(name: string, holder: string): Work<void> {
    yield* run('DELETE FROM leases WHERE name = ? AND holder = ?', name, holder);
  }

  /** Claims a channel's class for a box and session: null when it is this box's now, else the box that holds it. */
  *claimChannel(channelId: number, node: string, sessionId: string, now: number, ms: number): Work<string | null> {
    const took = (yield* run(`INSERT INTO channel_claims (channel_id, node, session_id, until) VALUES (?, ?, ?, ?)
      ON CONFLICT (channel_id) DO UPDATE SET node = excluded.node, session_id = excluded.session_id, until = excluded.until
      WHERE channel_claims.until < ? OR channel_claims.node = excluded.node`, channelId, node, sessionId, now + ms, now)) === 1;
    if (took) return null;
    return ((yield* get('SELECT node FROM channel_claims WHERE channel_id = ?', channelId)) as { node: string } | undefined)?.node ?? null;
  }

  /** Renews this box's claims of the sessions it runs and drops its others (classes that ended). */
  *renewClaims(node: string, sessionIds: readonly string[], now: number, ms: number): Work<void> {
    if (sessionIds.length === 0) {
      yield* run('DELETE FROM channel_claims WHERE node = ?', node);
      return;
    }
    const list = sessionIds.map(() => '?').join(', ');
    yield* run(`UPDATE channel_claims SET until = ? WHERE node = ? AND session_id IN (${list})`, now + ms, node, ...sessionIds);
    yield* run(`DELETE FROM channel_claims WHERE node = ? AND session_id NOT IN (${list})`, node, ...sessionIds);
  }

  *claims(): Work<ClaimRow[]> {
    return ((yield* all('SELECT channel_id, node, session_id, until FROM channel_claims ORDER BY channel_id')) as
      { channel_id: number; node: string; session_id: string; until: number }[]).map((r) => ({ channelId: r.channel_id, node: r.node, sessionId: r.session_id, until: r.until }));
  }

  /** Sessions a box left open (it stopped answering): what recovering it closes. */
  *openSessionsOf(node: string): Work<{ id: string; channel: string; startedAt: string }[]> {
    return ((yield* all(`SELECT s.id, c.slug, s.started_at FROM sessions s JOIN channels c ON c.id = s.channel_id
      WHERE s.ended_at IS NULL AND s.node = ? ORDER BY s.started_at`, node)) as { id: string; slug: string; started_at: string }[])
      .map((r) => ({ id: r.id, channel: r.slug, startedAt: r.started_at }));
  }

  /** Closes a dead box's session; its recording stays on that box (sessions.node says which). */
  *endForDeadNode(sessionId: string, node: string, at: string): Work<boolean> {
    const n = yield* run(`UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id = ? AND node = ? AND ended_at IS NULL`,
      at, deadBoxReason(node), sessionId, node);
    yield* run('DELETE FROM channel_claims WHERE session_id = ?', sessionId);
    return n === 1;
  }

  /** The box that ran a session (null: made before boxes had names, or on the embedded file). */
  *sessionNode(sessionId: string): Work<string | null> {
    return ((yield* get('SELECT node FROM sessions WHERE id = ?', sessionId)) as { node: string | null } | undefined)?.node ?? null;
  }
}
