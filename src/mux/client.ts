// The only importer of @mux/mux-node: a narrow MuxApi over the SDK (live streams, direct uploads, assets,
// webhook verification). Tests point the real SDK at a local fake API through `baseUrl`.

// The Mux SDK is loaded only when Mux is configured (a box without credentials never needs it).
import type MuxSdk from '@mux/mux-node';

export interface MuxLiveStream {
  id: string;
  streamKey: string;
  playbackId: string | null;
  status: string;
}

export interface MuxUpload {
  id: string;
  url: string;
  status: string;
  assetId: string | null;
}

export interface MuxAsset {
  id: string;
  status: string;
  playbackId: string | null;
}

export interface MuxEvent {
  id: string;
  type: string;
  /** When Mux created the event (ISO 8601), if it said. */
  createdAt?: string;
  data: Record<string, unknown>;
}

export interface MuxApi {
  createLiveStream(): Promise<MuxLiveStream>;
  liveStream(id: string): Promise<MuxLiveStream>;
  /** `textTracks`: caption files Mux fetches by URL and keeps with the asset (subtitle tracks). */
  createUpload(textTracks?: MuxTextTrack[]): Promise<MuxUpload>;
  upload(id: string): Promise<MuxUpload>;
  asset(id: string): Promise<MuxAsset>;
  /** Verifies the signature over the raw body and parses the event; throws when it does not verify. */
  verifyWebhook(rawBody: string, headers: Record<string, string>): Promise<MuxEvent>;
  /** A playback token (RS256 JWT, audience "v") for a signed playback id, valid for ttlSeconds. */
  signPlayback(playbackId: string, ttlSeconds: number): Promise<string>;
}

export interface MuxOptions {
  tokenId: string;
  tokenSecret: string;
  webhookSecret: string;
  baseUrl: string;
  playbackPolicy: 'public' | 'signed';
  /** URL signing key, for signed playback. */
  signingKeyId?: string;
  signingKeyPrivate?: string;
}

/** A WebVTT file Mux downloads into the asset as a subtitle track. */
export interface MuxTextTrack {
  url: string;
  languageCode: string;
  name: string;
}

export async function createMuxApi(o: MuxOptions): Promise<MuxApi> {
  const { default: Mux } = await import('@mux/mux-node');
  const mux: MuxSdk = new Mux({
    tokenId: o.tokenId, tokenSecret: o.tokenSecret, webhookSecret: o.webhookSecret || null,
    ...(o.baseUrl ? { baseURL: o.baseUrl } : {}), maxRetries: 2, timeout: 20000,
    jwtSigningKey: o.signingKeyId || null, jwtPrivateKey: o.signingKeyPrivate || null,
  });
  const policy = [o.playbackPolicy];
  const live = (s: { id: string; stream_key?: string; playback_ids?: { id: string }[] | null; status?: string }): MuxLiveStream => ({
    id: s.id, streamKey: s.stream_key ?? '', playbackId: s.playback_ids?.[0]?.id ?? null, status: s.status ?? 'idle',
  });
  return {
    createLiveStream: async () => live(await mux.video.liveStreams.create({ playback_policies: policy, new_asset_settings: { playback_policies: policy } })),
    liveStream: async (id) => live(await mux.video.liveStreams.retrieve(id)),
    createUpload: async (textTracks = []) => {
      const inputs = textTracks.map((t) => ({ url: t.url, type: 'text' as const, text_type: 'subtitles' as const, language_code: t.languageCode, name: t.name, closed_captions: true }));
      const u = await mux.video.uploads.create({ cors_origin: '*', new_asset_settings: { playback_policies: policy, ...(inputs.length ? { inputs } : {}) } });
      return { id: u.id, url: u.url ?? '', status: u.status, assetId: u.asset_id ?? null };
    },
    upload: async (id) => {
      const u = await mux.video.uploads.retrieve(id);
      return { id: u.id, url: u.url ?? '', status: u.status, assetId: u.asset_id ?? null };
    },
    asset: async (id) => {
      const a = await mux.video.assets.retrieve(id);
      return { id: a.id, status: a.status, playbackId: a.playback_ids?.[0]?.id ?? null };
    },
    verifyWebhook: async (rawBody, headers) => {
      await mux.webhooks.verifySignature(rawBody, headers, o.webhookSecret);
      const e = JSON.parse(rawBody) as { id?: unknown; type?: unknown; created_at?: unknown; data?: unknown };
      if (typeof e.id !== 'string' || typeof e.type !== 'string' || typeof e.data !== 'object' || e.data === null) throw new Error('not a Mux event');
      const at = typeof e.created_at === 'string' && !Number.isNaN(Date.parse(e.created_at)) ? new Date(e.created_at).toISOString() : undefined;
      return { id: e.id, type: e.type, ...(at ? { createdAt: at } : {}), data: e.data as Record<string, unknown> };
    },
    signPlayback: (playbackId, ttlSeconds) => mux.jwt.signPlaybackId(playbackId, { type: 'video', expiration: `${ttlSeconds}s` }),
  };
}

export const muxPlaybackUrl = (playbackId: string, token?: string): string =>
  `https://stream.mux.com/${playbackId}.m3u8${token ? `?token=${token}` : ''}`;
