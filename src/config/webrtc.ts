// The ICE servers the configuration names (webrtc.stunUrls, webrtc.turnUrl): given to the box's WebRTC stack and,
// through the WHIP endpoint's Link headers and the studio, to the browser. Pure.

import type { Config } from './schema.js';

export interface IceServer {
  urls: string;
  username?: string;
  credential?: string;
}

export function iceServersOf(config: Pick<Config, 'webrtc.stunUrls' | 'webrtc.turnUrl' | 'webrtc.turnUsername' | 'webrtc.turnCredential'>): IceServer[] {
  const out: IceServer[] = config['webrtc.stunUrls'].split(/\s+/).filter(Boolean).map((urls) => ({ urls }));
  if (config['webrtc.turnUrl']) {
    out.push({ urls: config['webrtc.turnUrl'], username: config['webrtc.turnUsername'], credential: config['webrtc.turnCredential'] });
  }
  return out;
}
