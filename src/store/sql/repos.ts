// The repositories, one of each, as both engines make them.

import { ApiTokenRepo } from './api-tokens.js';
import { BeaconRepo } from './beacons.js';
import { ChannelRepo } from './channels.js';
import { ClassRepo } from './classes.js';
import { EngagementRepo } from './engagement.js';
import { LtiRepo } from './lti.js';
import { MuxRepo } from './mux.js';
import { ReportRepo } from './reports.js';
import { SessionRepo } from './sessions.js';
import { StreamKeyRepo } from './stream-keys.js';
import { tx, type Work } from './query.js';
import type { Channel } from '../../domain/channel.js';
import type { NewChannel, StreamKeyInfo } from '../../domain/records.js';

/** @param node the box's name on a shared store; null on the embedded file (every session is this box's). */
export function makeRepos(node: string | null = null) {
  const channels = new ChannelRepo();
  const streamKeys = new StreamKeyRepo();
  return {
    channels, streamKeys, apiTokens: new ApiTokenRepo(), sessions: new SessionRepo(node), engagement: new EngagementRepo(),
    beacons: new BeaconRepo(), mux: new MuxRepo(), lti: new LtiRepo(), classes: new ClassRepo(), reports: new ReportRepo(),
    /** A channel and its first stream key, both or neither. */
    *createWithKey(c: NewChannel): Work<{ channel: Channel; key: string; info: StreamKeyInfo }> {
      return yield* tx(function* () {
        const channel = yield* channels.create(c);
        return { channel, ...(yield* streamKeys.rotate(channel.id)) };
      });
    },
  };
}


export type Repos = ReturnType<typeof makeRepos>;
