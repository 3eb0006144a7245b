// Where live media goes: one unit at a time (the container's header, then one frame or tag each), in order, never
// awaited. Ingests produce into sinks; the ladder's and the relay's bounded pipes and the preroll buffer consume.
// Consumers decide on a unit's kind and time, never on the container's bytes: an ingest that is not RTMP (WebRTC)
// describes its units the same way. `format` says which container the bytes are in — what ffmpeg is told to read.

export type UnitKind = 'header' | 'script' | 'video-config' | 'video-key' | 'video' | 'audio-config' | 'audio' | 'unknown';

/** The containers an ingest hands over: FLV is what RTMP carries; Matroska what a WebRTC publisher's frames are put in. */
export type MediaFormat = 'flv' | 'mkv';

export interface MediaUnit {
  format: MediaFormat;
  kind: UnitKind;
  /** Decode time in milliseconds (0 for headers). */
  ts: number;
  data: Buffer;
  /** H.264 profile_idc, on a video-config unit that carries one. */
  profile?: number;
}

export interface MediaSink {
  write(unit: MediaUnit): void;
}

/** Headers and codec configuration: tiny, and a decoder cannot work without them. */
export const isEssential = (kind: UnitKind): boolean => kind === 'header' || kind === 'script' || kind === 'video-config' || kind === 'audio-config';
