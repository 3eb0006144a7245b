// Who may fetch a playlist or segment: public channels pass, private ones need a playback token for the channel
// (live) or the session (replay), and names that belong to nothing are not found. The origin asks with the owner
// a path resolved to, never with text read off the raw URL. What a name belongs to is
// looked up once and remembered for a few seconds, so segment serving does not query the database per request.

import { checkPlayback } from '../auth/playback-token.js';

export interface AccessLookup {
  /** The channel a live path or a session belongs to, and whether it is public; undefined when unknown. */
  owner(kind: 'hls' | 'vod', name: string): { public: boolean } | undefined;
}

export class PlaybackGate {
  private readonly memo = new Map<string, { public: boolean | null; until: number }>();

  constructor(private readonly lookup: AccessLookup, private readonly secret: Buffer, private readonly o = { ttlMs: 5000, maxEntries: 10000 }) {}

  /** true, 'unknown' (no such channel or session: 404), or why not (403). */
  check(kind: 'hls' | 'vod', name: string, token: string | undefined, now: number): true | 'unknown' | string {
    const key = `${kind}:${name}`;
    let hit = this.memo.get(key);
    if (!hit || hit.until <= now) {
      if (this.memo.size >= this.o.maxEntries) this.memo.clear();
      hit = { public: this.lookup.owner(kind, name)?.public ?? null, until: now + this.o.ttlMs };
      this.memo.set(key, hit);
    }
    if (hit.public === null) return 'unknown';
    if (hit.public) return true;
    const verdict = checkPlayback(token, [kind === 'hls' ? `c:${name}` : `s:${name}`], this.secret, Math.floor(now / 1000));
    return verdict === 'ok' ? true : `this class is private: a valid playback token is required (${verdict})`;
  }
}
