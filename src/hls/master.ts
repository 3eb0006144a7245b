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

export const AUDIO_GROUP = 'aud';

export function masterPlaylist(variants: readonly MasterVariant[], audio?: MasterAudio, audioOnly?: AudioOnlyVariant): string {
  const { MasterPlaylist, Variant, Rendition } = HLS.types;
  const rendition = audio
    ? new Rendition({ type: 'AUDIO', uri: audio.uri, groupId: AUDIO_GROUP, name: audio.name, isDefault: true, autoselect: true, forced: false, channels: '2' })
    : undefined;
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
