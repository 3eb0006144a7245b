// What a learner's player should load: for a live channel, this box's ladder or (overflow) Mux's stream; for a
// past session, its local recording or, once that is gone, the Mux asset it was archived to. Signed Mux
// playback gets a fresh token on every answer. Pure decisions over the facts the caller passes in.

import { liveUrl, replayUrl } from '../domain/media-layout.js';

export interface Play {
  mode: 'local' | 'mux';
  url: string;
  /** Low-Latency HLS (latency 'ultra'): the player turns on its low-latency mode. */
  lowLatency?: boolean;
}

export interface PlaybackFacts {
  /** Where a live channel runs now; undefined when it is not live. */
  live(slug: string): { mode: 'local' | 'mux'; playbackId: string | null; lowLatency?: boolean } | undefined;
  /** True when the session's recording is still in the media folder. */
  recordingKept(sessionId: string): Promise<boolean>;
  /** The Mux playback id of the session's archive (or of its overflow asset), once known. */
  archivePlaybackId(sessionId: string): Promise<string | null | undefined>;
  /** Mux's playback URL for a playback id, with a token when playback is signed. */
  muxUrl(playbackId: string): Promise<string>;
  /** On a shared store: the public base URL of the box running the channel's class, when another box runs it. */
  elsewhere?(slug: string): string | undefined;
  /** On a shared store: the public base URL of the box holding the session's recording, when it is another box. */
  recordingOn?(sessionId: string): Promise<string | undefined>;
}

export async function channelPlayback(slug: string, f: PlaybackFacts): Promise<Play> {
  const p = f.live(slug);
  if (p?.mode === 'mux' && p.playbackId) return { mode: 'mux', url: await f.muxUrl(p.playbackId) };
  const there = p ? undefined : f.elsewhere?.(slug);
  if (there) return { mode: 'local', url: there + liveUrl(slug) };
  return { mode: 'local', url: liveUrl(slug), ...(p?.lowLatency ? { lowLatency: true } : {}) };
}

/** The replay of a session, or undefined when there is none (not recorded, or neither kept nor archived). */
export async function sessionReplay(sessionId: string, f: PlaybackFacts): Promise<Play | undefined> {
  if (await f.recordingKept(sessionId)) return { mode: 'local', url: replayUrl(sessionId) };
  const there = await f.recordingOn?.(sessionId);
  if (there) return { mode: 'local', url: there + replayUrl(sessionId) };
  const id = await f.archivePlaybackId(sessionId);
  return id ? { mode: 'mux', url: await f.muxUrl(id) } : undefined;
}
