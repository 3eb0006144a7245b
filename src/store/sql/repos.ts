// The repositories, one of each, as both engines make them.

import { ApiTokenRepo } from './api-tokens.js';
import { BeaconRepo } from './beacons.js';
import { ChannelRepo } from './channels.js';
import { ClassRepo } from './classes.js';
import { EngagementRepo } from './engagement.js';
import { LtiRepo } from './lti.js';
import { MuxRepo } from './mux.js';
import { NodeRepo } from './nodes.js';
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
  const sessions = new SessionRepo(node);
  const nodes = new NodeRepo();
  return {
    channels, streamKeys, apiTokens: new ApiTokenRepo(), sessions, nodes, engagement: new EngagementRepo(),
    beacons: new BeaconRepo(), mux: new MuxRepo(), lti: new LtiRepo(), classes: new ClassRepo(), reports: new ReportRepo(),
    /** A channel and its first stream key, both or neither. */
    *createWithKey(c: NewChannel): Work<{ channel: Channel; key: string; info: StreamKeyInfo }> {
      return yield* tx(function* () {
        const channel = yield* channels.create(c);
        return { channel, ...(yield* streamKeys.rotate(channel.id)) };
      });
    },
    /** A class starts on box `box` if it may claim the channel: null when it did (the session is written), else
     * the box that runs the class (nothing written). */
    *startClaimed(channelId: number, recorded: boolean, made: { id: string; at: string }, box: string, now: number, ms: number): Work<string | null> {
      return yield* tx(function* () {
        const holder = yield* nodes.claimChannel(channelId, box, made.id, now, ms);
        if (holder !== null) return holder;
        yield* sessions.start(channelId, recorded, made);
        return null;
      });
    },
  };
}


export type Repos = ReturnType<typeof makeRepos>;
