// The read model's copy, for either engine: channels, active stream-key hashes, scheduled classes, LMS platforms,
// the open sessions and the channel of each session, held in memory for the synchronous hot paths. Triggers bump a
// version per table on every write (read_versions); refresh() compares those few numbers, one small query, and
// reloads only a table that changed. When it runs is the engine's: before every read on the SQLite file (a local
// query), after every write and on a change notice on PostgreSQL (../pg/read-model.ts).

import { hashSecret, STREAM_KEY_PATTERN } from '../../auth/secrets.js';
import type { Channel } from '../../domain/channel.js';
import type { Platform, ScheduledClass } from '../../domain/records.js';
import type { ReadModel } from '../ports.js';
import type { ChannelRepo } from './channels.js';
import type { ClassRepo } from './classes.js';
import type { LtiRepo } from './lti.js';
import { all, get, type Work } from './query.js';

export type Table = 'channels' | 'stream_keys' | 'classes' | 'sessions' | 'platforms';

export interface Copy {
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

export const SESSION_CHANNEL = 'SELECT c.slug FROM sessions s JOIN channels c ON c.id = s.channel_id WHERE s.id = ?';

export abstract class ReadCopy implements ReadModel {
  protected readonly seen = new Map<Table, number>();
  protected readonly copy: Copy = { bySlug: new Map(), byId: new Map(), keys: new Map(), classes: new Map(), sessions: new Map(), open: new Map(), platforms: [] };
  /** How many times a table was read again (for the store's tests). */
  readonly reloads: Record<Table, number> = { channels: 0, stream_keys: 0, classes: 0, sessions: 0, platforms: 0 };

  /**
   * @param allSessions keep every session's channel (an engine that cannot ask synchronously on a miss)
   */
  constructor(private readonly repos: { channels: ChannelRepo; classes: ClassRepo; lti: LtiRepo }, private readonly allSessions: boolean) {}

  /** The copy as the engine keeps it current. */
  protected abstract current(): Copy;
  /** A session not in the copy: the engine may ask. */
  protected abstract missedSession(sessionId: string): string | undefined;

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
    const slug = this.missedSession(sessionId);
    if (slug !== undefined) known.set(sessionId, slug);
    return slug;
  }

  platforms(): Platform[] {
    return this.current().platforms;
  }

  openSession(slug: string): string | undefined {
    return this.current().open.get(slug);
  }

  /** A session this process just started or ended, before the store says so (the next refresh agrees). */
  noteSession(sessionId: string, slug: string, open: boolean): void {
    this.copy.sessions.set(sessionId, slug);
    if (open) this.copy.open.set(slug, sessionId);
    else if (this.copy.open.get(slug) === sessionId) this.copy.open.delete(slug);
  }

  /** Reloads the tables whose version moved since the last look; the ones reloaded. */
  *refresh(): Work<Table[]> {
    const moved: Table[] = [];
    for (const { name, version } of (yield* all('SELECT name, version FROM read_versions')) as { name: Table; version: number }[]) {
      if (this.seen.get(name) === version) continue;
      yield* this.reload(name);
      this.seen.set(name, version);
      this.reloads[name] += 1;
      moved.push(name);
    }
    return moved;
  }

  private *reload(table: Table): Work<void> {
    const c = this.copy;
    if (table === 'channels') {
      type Extra = { slug: string; a: number; s: string | null; at: string | null };
      const extra = new Map(((yield* all('SELECT slug, join_tokens_after AS a, mux_stream_status AS s, mux_stream_status_at AS at FROM channels')) as Extra[]).map((r) => [r.slug, r]));
      const list = yield* this.repos.channels.list();
      c.bySlug = new Map(list.map((ch) => {
        const x = extra.get(ch.slug);
        return [ch.slug, { ...ch, joinTokensAfter: x?.a ?? 0, muxStream: x?.s && x.at ? { status: x.s, at: x.at } : null }];
      }));
      c.byId = new Map(list.map((ch) => [ch.id, ch]));
    } else if (table === 'stream_keys') {
      const rows = (yield* all('SELECT hash, channel_id AS id FROM stream_keys WHERE revoked_at IS NULL')) as { hash: string; id: number }[];
      c.keys = new Map(rows.map((r) => [r.hash, r.id]));
    } else if (table === 'classes') {
      c.classes = new Map();
      for (const k of yield* this.repos.classes.list()) c.classes.set(k.channelId, [...(c.classes.get(k.channelId) ?? []), k]);
    } else if (table === 'platforms') {
      c.platforms = yield* this.repos.lti.platforms();
    } else {
      // A session never changes channel: kept as asked for, or all of them where a miss cannot be asked.
      c.sessions = this.allSessions
        ? new Map(((yield* all('SELECT s.id, c.slug FROM sessions s JOIN channels c ON c.id = s.channel_id')) as { id: string; slug: string }[]).map((r) => [r.id, r.slug]))
        : new Map();
      const open = (yield* all('SELECT s.id, c.slug FROM sessions s JOIN channels c ON c.id = s.channel_id WHERE s.ended_at IS NULL ORDER BY s.started_at')) as { id: string; slug: string }[];
      c.open = new Map(open.map((r) => [r.slug, r.id]));
    }
  }

  /** The channel of one session, asked of the store. */
  protected *askSession(sessionId: string): Work<string | undefined> {
    return ((yield* get(SESSION_CHANNEL, sessionId)) as { slug: string } | undefined)?.slug;
  }
}
