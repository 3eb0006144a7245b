// The Mux side of overflow: the channel's Mux live stream (created once, reused after) and the relay that pushes a
// class there unchanged. The class run decides when; this module knows how.

import type { Logger } from '../log.js';
import type { PidFile } from '../media/pid-file.js';
import type { OverflowPort } from '../live/outputs.js';
import type { MuxRepository } from '../store/ports.js';
import type { MuxApi, MuxEvent } from './client.js';
import { Relay } from './relay.js';

export interface MuxOverflowOptions {
  api: MuxApi;
  repo: Pick<MuxRepository, 'channelStream' | 'setChannelStream' | 'markOverflow'>;
  /** Mux's RTMP(S) ingest base, e.g. rtmps://global-live.mux.com:443/app. */
  ingestUrl: string;
  ffmpegPath: string;
  log: Logger;
  pids?: PidFile;
}

export function muxOverflow(o: MuxOverflowOptions): OverflowPort {
  return {
    ensureStream: async (slug) => {
      const known = await o.repo.channelStream(slug);
      const stream = known.liveStreamId ? await o.api.liveStream(known.liveStreamId) : await o.api.createLiveStream();
      if (!known.liveStreamId) await o.repo.setChannelStream(slug, stream.id, stream.playbackId);
      if (!stream.streamKey) throw new Error('Mux returned no stream key');
      return { target: `${o.ingestUrl.replace(/\/$/, '')}/${stream.streamKey}`, playbackId: stream.playbackId ?? known.playbackId };
    },
    relay: (req) => new RelayOutput(() => new Relay({
      ffmpegPath: o.ffmpegPath, target: req.target, feed: req.feed, onGiveUp: req.onGiveUp, log: o.log, pids: o.pids, ...(req.source ? { source: req.source } : {}),
    })),
    markOverflow: (id) => o.repo.markOverflow(id),
  };
}

/** The relay as a class output: a new relay process (and ingest link) for each publisher of the class. */
export class RelayOutput {
  readonly kind = 'relay';
  private current?: { start(): Promise<void>; stop(): Promise<void> };

  constructor(private readonly make: () => { start(): Promise<void>; stop(): Promise<void> }) {}

  async start(): Promise<void> {
    this.current = this.make();
    await this.current.start();
  }

  async stop(): Promise<void> {
    await this.current?.stop();
  }

  async close(): Promise<{ published?: boolean }> {
    return {};
  }
}

/** Answers a Mux webhook: its signature checked by the SDK, its event applied once by the archiver. */
export function muxWebhook(api: MuxApi, onEvent: (e: MuxEvent) => Promise<boolean>) {
  return async (raw: string, signature: string): Promise<'ok' | 'duplicate' | 'bad_signature'> => {
    let event;
    try {
      event = await api.verifyWebhook(raw, { 'mux-signature': signature });
    } catch {
      return 'bad_signature';
    }
    return (await onEvent(event)) ? 'ok' : 'duplicate';
  };
}
