// An OBS-style WHIP publisher without a browser: a werift peer (sendonly video + audio) whose tracks are fed by a
// real ffmpeg sending RTP (VP8 or H.264 from testsrc2, Opus from a sine) to loopback UDP. `dropEvery` drops packets
// on that UDP path before they reach the peer (loss on the way in, which the server's NACK and jitter buffer meet).

import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { MediaStreamTrack, RTCPeerConnection, RTCRtpCodecParameters, useNACK, usePLI } from 'werift';

export interface WhipClientOptions {
  codec?: 'vp8' | 'h264';
  size?: string;
  fps?: number;
  /** Keyframe interval in frames (ffmpeg does not answer PLI). */
  gop?: number;
  kbps?: number;
  /** Drop this fraction of the RTP packets at random after they leave the sender (0.05 = 5 %): its retransmission
   * cache holds them, as on a lossy network, so the server's NACKs and jitter buffer meet real loss. */
  loss?: number;
  /** With `loss`: a lost packet stays lost (its retransmissions are dropped too), as if the sender kept no history. */
  lossForGood?: boolean;
  seconds?: number;
}

export interface WhipClient {
  status: number;
  body: string;
  location?: string;
  headers: Headers;
  pc?: RTCPeerConnection;
  ffmpeg?: ChildProcess;
  sent: { video: number; audio: number; dropped: number; retransmitted: number };
  /** Stops sending (the peer stays open unless `close` is also called). */
  stopMedia(): void;
  close(): Promise<void>;
  del(): Promise<Response>;
}

async function udp(): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  return s;
}

export async function whipPublish(url: string, token: string | undefined, o: WhipClientOptions = {}): Promise<WhipClient> {
  const codec = o.codec ?? 'vp8';
  const video = codec === 'vp8'
    ? new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90000, rtcpFeedback: [useNACK(), usePLI()] })
    : new RTCRtpCodecParameters({ mimeType: 'video/H264', clockRate: 90000, rtcpFeedback: [useNACK(), usePLI()], parameters: 'profile-level-id=42e01f;packetization-mode=1;level-asymmetry-allowed=1' });
  const pc = new RTCPeerConnection({ codecs: { video: [video], audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2 })] }, iceUseIpv6: false, bundlePolicy: 'max-bundle' }); // balanced leaks werift's second transport's socket at close
  const vTrack = new MediaStreamTrack({ kind: 'video' });
  const aTrack = new MediaStreamTrack({ kind: 'audio' });
  pc.addTransceiver(vTrack, { direction: 'sendonly' });
  pc.addTransceiver(aTrack, { direction: 'sendonly' });
  await pc.setLocalDescription(await pc.createOffer());
  const offer = pc.localDescription!.sdp;
  const res = await fetch(url, {
    method: 'POST', body: offer,
    headers: { 'Content-Type': 'application/sdp', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
  });
  const body = await res.text();
  const location = res.headers.get('location') ?? undefined;
  const sent = { video: 0, audio: 0, dropped: 0, retransmitted: 0 };
  const del = (): Promise<Response> => fetch(new URL(location ?? '/', url), { method: 'DELETE', headers: token ? { Authorization: `Bearer ${token}` } : {} });
  if (res.status !== 201) {
    await pc.close();
    return { status: res.status, body, headers: res.headers, sent, stopMedia: () => {}, close: async () => {}, del };
  }
  await pc.setRemoteDescription({ type: 'answer', sdp: body });
  if (o.loss) dropOnTheWay(pc, o.loss, sent, o.lossForGood ?? false);
  const vSock = await udp();
  const aSock = await udp();
  vSock.on('message', (m) => {
    sent.video += 1;
    vTrack.writeRtp(m);
  });
  aSock.on('message', (m) => {
    sent.audio += 1;
    aTrack.writeRtp(m);
  });
  const fps = o.fps ?? 30;
  const venc = codec === 'vp8'
    ? ['-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', `${o.kbps ?? 1500}k`, '-g', String(o.gop ?? fps), '-keyint_min', String(o.gop ?? fps)]
    : ['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-profile:v', 'baseline', '-b:v', `${o.kbps ?? 1500}k`, '-g', String(o.gop ?? fps), '-bsf:v', 'h264_mp4toannexb'];
  const ffmpeg = spawn('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', `testsrc2=size=${o.size ?? '640x360'}:rate=${fps}`,
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    ...(o.seconds ? ['-t', String(o.seconds)] : []),
    '-map', '0:v', ...venc, '-pix_fmt', 'yuv420p', '-payload_type', '96', '-f', 'rtp', `rtp://127.0.0.1:${(vSock.address()).port}?pkt_size=1200`,
    '-map', '1:a', '-c:a', 'libopus', '-b:a', '64k', '-ar', '48000', '-ac', '2', '-payload_type', '111', '-f', 'rtp', `rtp://127.0.0.1:${(aSock.address()).port}?pkt_size=1200`,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  ffmpeg.stderr!.resume();
  const stopMedia = (): void => {
    if (ffmpeg.exitCode === null) ffmpeg.kill('SIGKILL');
    vSock.close();
    aSock.close();
  };
  return {
    status: res.status, body, location, headers: res.headers, pc, ffmpeg, sent, stopMedia, del,
    close: async () => {
      stopMedia();
      await pc.close();
    },
  };
}


/**
 * Loss on the wire: the (bundled) transport's SRTP send drops packets at random. werift's sender caches each packet
 * before this point and answers NACKs from that cache; a retransmission can be lost too.
 */
function dropOnTheWay(pc: RTCPeerConnection, loss: number, sent: { dropped: number; retransmitted: number }, forGood: boolean): void {
  type Header = { ssrc: number; sequenceNumber: number };
  const transport = pc.getTransceivers()[0]!.sender.dtlsTransport as unknown as { sendRtp(payload: Buffer, header: Header): Promise<number> };
  const send = transport.sendRtp.bind(transport);
  const seen = new Set<string>();
  const lost = new Set<string>();
  transport.sendRtp = async (payload, header) => {
    const id = `${header.ssrc}:${header.sequenceNumber}`;
    if (seen.has(id)) sent.retransmitted += 1;
    seen.add(id);
    if ((forGood && lost.has(id)) || Math.random() < loss) {
      lost.add(id);
      sent.dropped += 1;
      return 0;
    }
    return send(payload, header);
  };
}
