// The few things the WHIP endpoint reads in or writes into SDP: whether an offer is one it can answer, which codecs
// the answer settled on, the advertised address added to the answer's candidates, and trickled candidates. Pure.

import type { MkvVideoCodec } from '../media/mkv.js';

/** An offer larger than this is not a publisher's (a browser's is 4–8 KiB). */
export const MAX_SDP_BYTES = 64 * 1024;

export type OfferCheck = { ok: true } | { ok: false; reason: string };

export function checkOffer(sdp: string): OfferCheck {
  if (sdp.length === 0) return { ok: false, reason: 'the body is empty: send an SDP offer (Content-Type: application/sdp)' };
  if (Buffer.byteLength(sdp) > MAX_SDP_BYTES) return { ok: false, reason: `the SDP offer is larger than ${MAX_SDP_BYTES / 1024} KiB` };
  if (!/^v=0\r?\n/.test(sdp)) return { ok: false, reason: 'the body is not an SDP offer (it must begin with "v=0")' };
  const media = [...sdp.matchAll(/^m=(\w+) /gm)].map((m) => m[1]);
  if (!media.includes('video')) return { ok: false, reason: 'the offer has no video: a class needs a camera or a screen' };
  if (media.filter((m) => m === 'video').length > 1 || media.filter((m) => m === 'audio').length > 1) {
    return { ok: false, reason: 'the offer has more than one video or audio track: send one of each' };
  }
  if (!/^a=ice-ufrag:/m.test(sdp) || !/^a=fingerprint:/m.test(sdp)) return { ok: false, reason: 'the offer lacks ICE credentials or a DTLS fingerprint' };
  if (!/^a=rtpmap:\d+ (VP8|VP9|H264)\/90000/im.test(sdp)) return { ok: false, reason: 'the offer has no video codec this server takes (VP8, VP9 or H.264)' };
  return { ok: true };
}

/**
 * A stage member's offer: a microphone (a camera optional) to send, and pairs of audio and video receive slots for the
 * others (ingest/stage-sfu.ts), at most `maxSlots` pairs and one track of each kind to send.
 */
export function checkStageOffer(sdp: string, maxSlots: number): OfferCheck {
  if (sdp.length === 0) return { ok: false, reason: 'the body is empty: send an SDP offer (Content-Type: application/sdp)' };
  if (Buffer.byteLength(sdp) > MAX_SDP_BYTES) return { ok: false, reason: `the SDP offer is larger than ${MAX_SDP_BYTES / 1024} KiB` };
  if (!/^v=0\r?\n/.test(sdp)) return { ok: false, reason: 'the body is not an SDP offer (it must begin with "v=0")' };
  const sections = sdp.split(/^(?=m=)/m).slice(1);
  const dir = (s: string): string => /^a=(sendrecv|sendonly|recvonly|inactive)/m.exec(s)?.[1] ?? 'sendrecv';
  const media = sections.map((s) => ({ kind: /^m=(\w+)/.exec(s)?.[1], dir: dir(s) }));
  const sending = (k: string): number => media.filter((m) => m.kind === k && (m.dir === 'sendonly' || m.dir === 'sendrecv')).length;
  if (sending('audio') !== 1) return { ok: false, reason: 'the offer must send one microphone track' };
  if (sending('video') > 1) return { ok: false, reason: 'the offer sends more than one camera' };
  if (media.filter((m) => m.dir === 'recvonly').length > 2 * maxSlots) return { ok: false, reason: `the offer has more than ${maxSlots} receive slots` };
  if (!/^a=ice-ufrag:/m.test(sdp) || !/^a=fingerprint:/m.test(sdp)) return { ok: false, reason: 'the offer lacks ICE credentials or a DTLS fingerprint' };
  if (!/^a=rtpmap:\d+ opus\/48000/im.test(sdp)) return { ok: false, reason: 'the offer has no Opus audio' };
  return { ok: true };
}

/** The codecs an answer settled on: the first payload type of each m-line, by name. */
export function answeredCodecs(sdp: string): { video?: MkvVideoCodec; audio?: 'opus' } {
  const out: { video?: MkvVideoCodec; audio?: 'opus' } = {};
  for (const section of sdp.split(/^(?=m=)/m).slice(1)) {
    const m = /^m=(\w+) (\d+) \S+ (\d+)/.exec(section);
    if (!m || m[2] === '0' || /^a=inactive/m.test(section)) continue; // a rejected or inactive track
    const name = new RegExp(`^a=rtpmap:${m[3]} ([\\w-]+)/`, 'm').exec(section)?.[1]?.toLowerCase();
    if (m[1] === 'video' && (name === 'vp8' || name === 'vp9' || name === 'h264')) out.video = name;
    if (m[1] === 'audio' && name === 'opus') out.audio = 'opus';
  }
  return out;
}

/**
 * Adds, for each host candidate, one on the advertised address with the same port (a box behind a 1:1 NAT or a
 * port forward: the browser's checks to the public address reach the same socket).
 */
export function advertise(sdp: string, publicIp: string | undefined): string {
  if (!publicIp) return sdp;
  return sdp.replace(/^a=candidate:(\S+) (\d+) (udp|UDP) (\d+) (\S+) (\d+) typ host(.*)$/gm, (line, f, c, proto, prio, ip, port, rest) =>
    ip === publicIp ? line : `${line}\r\na=candidate:${f}9 ${c} ${proto} ${Math.max(0, Number(prio) - 1)} ${publicIp} ${port} typ host${rest.replace(/\r$/, '')}`,
  );
}

/** Candidates in a trickle-ICE fragment (application/trickle-ice-sdpfrag, RFC 8840), and whether it restarts ICE. */
export function fragmentCandidates(frag: string): { candidates: string[]; ufrag?: string } {
  const candidates = [...frag.matchAll(/^a=(candidate:[^\r\n]+)/gm)].map((m) => m[1]!);
  const ufrag = /^a=ice-ufrag:(\S+)/m.exec(frag)?.[1];
  return { candidates, ...(ufrag ? { ufrag } : {}) };
}
