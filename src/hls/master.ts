// Writes the master playlist text with hls-parser (the only module importing it). Pure: variants in, text out.

import * as HLS from 'hls-parser';

export interface MasterVariant {
  /** Path of the variant playlist relative to the master. */
  uri: string;
  bandwidth: number;
  averageBandwidth: number;
  width: number;
  height: number;
  frameRate: number;
  /** Video codec string (avc1.…). */
  videoCodec: string;
  /** Audio muxed into the variant itself (LL-HLS rungs), not a separate rendition. */
  audioCodec?: string;
}

/** The audio-only variant: its own playlist, audio muxed in, no picture. */
export interface AudioOnlyVariant {
  uri: string;
  bandwidth: number;
  averageBandwidth: number;
  audioCodec: string;
}

export interface MasterAudio {
  uri: string;
  codec: string;
  name: string;
}

/** A WebVTT caption track (a SUBTITLES rendition). */
export interface MasterSubtitles {
  uri: string;
  language: string;
  name: string;
}

export const AUDIO_GROUP = 'aud';
export const SUBTITLES_GROUP = 'subs';

export function masterPlaylist(variants: readonly MasterVariant[], audio?: MasterAudio, audioOnly?: AudioOnlyVariant, subtitles: readonly MasterSubtitles[] = []): string {
  const { MasterPlaylist, Variant, Rendition } = HLS.types;
  const rendition = audio
    ? new Rendition({ type: 'AUDIO', uri: audio.uri, groupId: AUDIO_GROUP, name: audio.name, isDefault: true, autoselect: true, forced: false, channels: '2' })
    : undefined;
  // The first language is the default track; a player shows it when captions are turned on (AUTOSELECT).
  const subs = subtitles.map((s, i) => new Rendition({
    type: 'SUBTITLES', uri: s.uri, groupId: SUBTITLES_GROUP, name: s.name, language: s.language, isDefault: i === 0, autoselect: true, forced: false,
  }));
  const playlist = new MasterPlaylist({
    version: 6,
    independentSegments: true,
    variants: [...variants]
      .sort((a, b) => b.bandwidth - a.bandwidth)
      .map((v) => new Variant({
        uri: v.uri,
        bandwidth: Math.round(v.bandwidth),
        averageBandwidth: Math.round(v.averageBandwidth),
        resolution: { width: v.width, height: v.height },
        frameRate: Math.round(v.frameRate * 1000) / 1000,
        codecs: [v.videoCodec, audio?.codec ?? v.audioCodec].filter(Boolean).join(','),
        audio: rendition ? [rendition] : [],
        subtitles: subs,
      })),
  });
  // Last, as the lowest bandwidth: a player that picks by bandwidth takes it only when no picture fits the link.
  if (audioOnly) {
    playlist.variants.push(new Variant({
      uri: audioOnly.uri, bandwidth: Math.round(audioOnly.bandwidth), averageBandwidth: Math.round(audioOnly.averageBandwidth), codecs: audioOnly.audioCodec,
    }));
  }
  return HLS.stringify(playlist);
}
