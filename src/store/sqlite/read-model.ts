// The read model of the embedded store: channels, active stream-key hashes, scheduled classes, LMS platforms, the
// open sessions and the channel of each session asked for, held in memory for the synchronous hot paths. Triggers
// bump a version per table on every write (migration 13), from this process or another (the CLI): each read first
// compares those few numbers, one small query, and reloads only a table that changed.

import { hashSecret, STREAM_KEY_PATTERN } from '../../auth/secrets.js';
import type { Channel } from '../../domain/channel.js';
import type { Platform, ScheduledClass } from '../../domain/records.js';
import type { ReadModel } from '../ports.js';
import type { ChannelRepo } from './channels.js';
import type { ClassRepo } from './classes.js';
import type { LtiRepo } from './lti.js';
import type { Db, Statement } from './db.js';

type Table = 'channels' | 'stream_keys' | 'classes' | 'sessions' | 'platforms';

interface Copy {
  bySlug: Map<string, Channel & { joinTokensAfter: number; muxStream: { status: string; at: string } | null }>;
  byId: Map<number, Channel>;
  /** hash of the active key → channel id */
  keys: Map<string, number>;
  classes: Map<number, ScheduledClass[]>;
  sessions: Map<string, string>;
  /** channel slug → its open session */
  open: Map<string, string>;
  platforms: Platform[];
}

export class SqliteReadModel implements ReadModel {
  private readonly seen = new Map<Table, number>();
  private readonly copy: Copy = { bySlug: new Map(), byId: new Map(), keys: new Map(), classes: new Map(), sessions: new Map(), open: new Map(), platforms: [] };
  // Prepared on first use: a store opened read-only before its migrations (doctor) has no read_versions table.
  private versions?: Statement;
  private sessionOwner?: Statement;
  /** How many times a table was read again (for the store's tests). */
  readonly reloads: Record<Table, number> = { channels: 0, stream_keys: 0, classes: 0, sessions: 0, platforms: 0 };

  constructor(private readonly db: Db, private readonly repos: { channels: ChannelRepo; classes: ClassRepo; lti: LtiRepo }) {
  }

  channel(slug: string): Channel | undefined {
    return this.current().bySlug.get(slug);
  }

  channelById(id: number): Channel | undefined {
    return this.current().byId.get(id);
  }

  channelForKey(key: string): number | undefined {
    if (!STREAM_KEY_PATTERN.test(key)) return undefined;
    // Looked up by the key's hash: timing reveals nothing of the plaintext.
    return this.current().keys.get(hashSecret(key));
  }

  muxStream(slug: string): { status: string; at: string } | null {
    return this.current().bySlug.get(slug)?.muxStream ?? null;
  }

  joinTokensAfter(slug: string): number {
    return this.current().bySlug.get(slug)?.joinTokensAfter ?? 0;
  }

  classesOf(channelId: number): ScheduledClass[] {
    return this.current().classes.get(channelId) ?? [];
  }

  sessionChannel(sessionId: string): string | undefined {
    const known = this.current().sessions;
    const hit = known.get(sessionId);
    if (hit !== undefined) return hit;
    this.sessionOwner ??= this.db.prepare('SELECT c.slug FROM sessions s JOIN channels c ON c.id = s.channel_id WHERE s.id = ?');
    const row = this.sessionOwner.get(sessionId) as { slug: string } | undefined;
    if (row) known.set(sessionId, row.slug);
    return row?.slug;
  }

  platforms(): Platform[] {
    return this.current().platforms;
  }

  openSession(slug: string): string | undefined {
    return this.current().open.get(slug);
  }

  private current(): Copy {
    this.versions ??= this.db.prepare('SELECT name, version FROM read_versions');
    for (const { name, version } of this.versions.all() as { name: Table; version: number }[]) {
      if (this.seen.get(name) === version) continue;
      this.seen.set(name, version);
      this.reload(name);
      this.reloads[name] += 1;
    }
    return this.copy;
  }

  private reload(table: Table): void {
    const c = this.copy;
    if (table === 'channels') {
      type Extra = { slug: string; a: number; s: string | null; at: string | null };
      const extra = new Map((this.db.prepare('SELECT slug, join_tokens_after AS a, mux_stream_status AS s, mux_stream_status_at AS at FROM channels').all() as Extra[]).map((r) => [r.slug, r]));
      const all = this.repos.channels.list();
      c.bySlug = new Map(all.map((ch) => {
        const x = extra.get(ch.slug);
        return [ch.slug, { ...ch, joinTokensAfter: x?.a ?? 0, muxStream: x?.s && x.at ? { status: x.s, at: x.at } : null }];
      }));
      c.byId = new Map(all.map((ch) => [ch.id, ch]));
    } else if (table === 'stream_keys') {
      const rows = this.db.prepare('SELECT hash, channel_id AS id FROM stream_keys WHERE revoked_at IS NULL').all() as { hash: string; id: number }[];
      c.keys = new Map(rows.map((r) => [r.hash, r.id]));
    } else if (table === 'classes') {
      c.classes = new Map();
      for (const k of this.repos.classes.list()) c.classes.set(k.channelId, [...(c.classes.get(k.channelId) ?? []), k]);
    } else if (table === 'platforms') {
      c.platforms = this.repos.lti.platforms();
    } else {
      c.sessions = new Map(); // filled one session at a time as they are asked for; a session never changes channel
      const open = this.db.prepare('SELECT s.id, c.slug FROM sessions s JOIN channels c ON c.id = s.channel_id WHERE s.ended_at IS NULL ORDER BY s.started_at').all() as { id: string; slug: string }[];
      c.open = new Map(open.map((r) => [r.slug, r.id]));
    }
  }
}
