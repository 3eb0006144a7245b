// What a publish is, independent of the protocol it arrives by: the ports between an ingest (RTMP today, WebRTC
// next) and the live classes. An ingest implements `Ingest` and calls `IngestHandlers`; `live/` never imports an
// ingest. Media crosses as `MediaUnit`s (media/sink.ts: kind, time, bytes of the ingest's container, FLV for RTMP)
// into a `MediaSink`, the source described by `SourceMeta`.

import type { MediaFormat, MediaSink } from '../media/sink.js';
import type { SourceInfo } from '../transcode/ladder.js';

export interface PublishAttempt {
  /** Unique among every ingest's publishers. */
  id: string;
  /** The stream key the publisher sent ('' when an instructor's join token authorized it instead). */
  key: string;
  /** The channel the publisher named (WHIP's URL): the key must be this channel's. */
  channelId?: number;
  /** The HTTP layer checked an instructor join token for `channelId`: no key is needed. */
  byInstructor?: true;
  /** Remote address without the port. */
  address: string;
  /** Which way in. */
  via?: IngestKind;
}

/** Why a publish is refused, as a code; the words for people are in `reason`. */
export type RefusalCode = 'shutting_down' | 'unknown_key' | 'channel_busy' | 'disk_low' | 'over_budget';

/** replaces: the publisher this publish takes over from (a frozen encoder on the same key). */
export type Admission = { ok: true; replaces?: string } | { ok: false; code: RefusalCode; reason: string };

/** The ways in a session records (`rtmp`: OBS and other encoders; `whip`: a browser or OBS over WebRTC). */
export type IngestKind = 'rtmp' | 'whip';

export interface SourceMeta {
  videoCodec: SourceInfo['videoCodec'];
  width: number;
  height: number;
  fps: number;
  videoKbps: number;
  audioCodec: SourceInfo['audioCodec'];
  inBytes: number;
  /** The container the units are in. */
  container: MediaFormat;
  via: IngestKind;
}

/** What the live classes answer to an ingest. */
export interface IngestHandlers {
  /** Decides synchronously whether a publish may go on; a refusal closes the connection. */
  admit(a: PublishAttempt): Admission;
  /** The publisher's connection closed (it may come back within the grace window). */
  disconnected(id: string): void;
  /** The ingest ended the publish for good. */
  ended(id: string): void;
}

/** What the live classes need of an ingest, for one of its publishers. */
export interface IngestPort {
  meta(id: string): SourceMeta | undefined;
  subscribe(id: string, sink: MediaSink): () => void;
  kick(id: string): void;
}

/** One way in: a port over its own publishers, and whether an id is one of them. */
export interface Ingest extends IngestPort {
  owns(id: string): boolean;
}

/** Several ingests behind one port: each call goes to the ingest that owns the publisher. */
export class IngestRouter implements IngestPort {
  constructor(private readonly ingests: readonly Ingest[]) {}

  private of(id: string): Ingest | undefined {
    return this.ingests.find((i) => i.owns(id));
  }

  meta(id: string): SourceMeta | undefined {
    return this.of(id)?.meta(id);
  }

  subscribe(id: string, sink: MediaSink): () => void {
    const ingest = this.of(id);
    if (!ingest) throw new Error(`publish ${id} is not live`);
    return ingest.subscribe(id, sink);
  }

  kick(id: string): void {
    this.of(id)?.kick(id);
  }
}
