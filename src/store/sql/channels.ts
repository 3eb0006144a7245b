// Repository for the channel aggregate. SQL for channels lives here and nowhere else.

import { ConflictError, NotFoundError } from '../../domain/errors.js';
import type { Channel, EncodeProfile, Latency, Overflow, RungName } from '../../domain/channel.js';
import type { CaptionMode } from '../../domain/captions.js';
import { get, all, run, isUniqueViolation, type Work } from './query.js';
import type { NewChannel, ChannelPatch } from '../../domain/records.js';

interface Row {
  id: number;
  slug: string;
  title: string;
  ladder: string;
  latency: Latency;
  record: number;
  archive: number;
  overflow: Overflow;
  profile: EncodeProfile;
  allow_guests: number;
  public: number;
  starts_at: string | null;
  captions: CaptionMode;
  caption_languages: string;
  created_at: string;
  updated_at: string;
}

const toChannel = (r: Row): Channel => ({
  id: r.id,
  slug: r.slug,
  title: r.title,
  ladder: r.ladder.split(',') as RungName[],
  latency: r.latency,
  record: r.record === 1,
  archive: r.archive === 1,
  overflow: r.overflow,
  profile: r.profile,
  allowGuests: r.allow_guests === 1,
  public: r.public === 1,
  startsAt: r.starts_at,
  captions: r.captions ?? 'off',
  captionLanguages: (r.caption_languages ?? 'en').split(','),
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export class ChannelRepo {
  constructor(private readonly now: () => Date = () => new Date()) {}

  /** Join tokens of the channel issued before this second are void; 0 when none were ended. */
  *joinTokensAfter(slug: string): Work<number> {
    return ((yield* get('SELECT join_tokens_after AS a FROM channels WHERE slug = ?', slug)) as { a: number } | undefined)?.a ?? 0;
  }

  /** Ends every join token of the channel issued until now (`kmk-live token revoke-all`); the new epoch. */
  *endJoinTokens(slug: string): Work<number> {
    // Tokens carry whole seconds: the next second is the first whose tokens stay good.
    const after = Math.floor(this.now().getTime() / 1000) + 1;
    if ((yield* run('UPDATE channels SET join_tokens_after = ? WHERE slug = ?', after, slug)) === 0) {
      throw new NotFoundError(`no channel "${slug}" (see: kmk-live channel list)`);
    }
    return after;
  }

  *create(c: NewChannel): Work<Channel> {
    const at = this.now().toISOString();
    try {
      const row = (yield* get(`INSERT INTO channels (slug, title, ladder, latency, record, archive, overflow, profile, allow_guests, starts_at, public, captions, caption_languages, created_at, updated_at)
                  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`, c.slug, c.title, c.ladder.join(','), c.latency, c.record ? 1 : 0, c.archive ? 1 : 0, c.overflow, c.profile ?? 'lecture', c.allowGuests ? 1 : 0, c.startsAt ?? null, c.public ? 1 : 0,
        c.captions ?? 'off', (c.captionLanguages ?? ['en']).join(','), at, at));
      return toChannel(row as Row);
    } catch (err) {
      if (isUniqueViolation(err)) {
        throw new ConflictError(`channel "${c.slug}" already exists`);
      }
      throw err;
    }
  }

  *find(slug: string): Work<Channel | undefined> {
    const row = (yield* get('SELECT * FROM channels WHERE slug = ?', slug)) as Row | undefined;
    return row && toChannel(row);
  }

  *get(slug: string): Work<Channel> {
    const c = yield* this.find(slug);
    if (!c) throw new NotFoundError(`no channel "${slug}" (see: kmk-live channel list)`);
    return c;
  }

  *byId(id: number): Work<Channel> {
    const row = (yield* get('SELECT * FROM channels WHERE id = ?', id)) as Row | undefined;
    if (!row) throw new NotFoundError(`no channel with id ${id}`);
    return toChannel(row);
  }

  *list(): Work<Channel[]> {
    return ((yield* all('SELECT * FROM channels ORDER BY slug')) as Row[]).map(toChannel);
  }

  *update(slug: string, patch: ChannelPatch): Work<Channel> {
    const current = yield* this.get(slug);
    const next = { ...current, ...patch };
    (yield* run(`UPDATE channels SET title = ?, ladder = ?, latency = ?, record = ?, archive = ?, overflow = ?, profile = ?, allow_guests = ?,
                starts_at = ?, public = ?, captions = ?, caption_languages = ?, updated_at = ? WHERE id = ?`, next.title, next.ladder.join(','), next.latency, next.record ? 1 : 0, next.archive ? 1 : 0, next.overflow, next.profile,
        next.allowGuests ? 1 : 0, next.startsAt ?? null, next.public ? 1 : 0, next.captions, next.captionLanguages.join(','), this.now().toISOString(), current.id));
    return yield* this.byId(current.id);
  }

  *delete(slug: string): Work<void> {
    const changes = (yield* run('DELETE FROM channels WHERE slug = ?', slug));
    if (changes === 0) throw new NotFoundError(`no channel "${slug}" (see: kmk-live channel list)`);
  }
}
