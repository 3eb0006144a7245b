// Builds the hub the same way in the main process and in `serve --workers` processes: options from the config,
// reads from the store, and the Redis backplane when hub.backplane is set.

import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { EngagementRepository, ReadModel } from '../store/ports.js';
import { nextStart } from '../classes/resolve.js';
import { Hub, type HubDeps } from './hub.js';
import { RedisBackplane } from './redis-backplane.js';
import { joinVerifier, type JoinVerifier } from '../auth/join-token.js';
import type { SocketDeps } from './socket.js';

/** What the /ws binding needs, alike in the main process and its workers. */
export function socketDeps(config: Config, read: ReadModel, secret: Buffer): SocketDeps {
  return {
    verifyJoin: installationVerifier(config, read, secret),
    allowsGuests: (slug) => read.channel(slug)?.allowGuests,
    secret,
    tokensAfter: (slug) => read.joinTokensAfter(slug),
  };
}

/** How this installation verifies join tokens (the main process and its workers alike). */
export function installationVerifier(config: Config, read: ReadModel, secret: Buffer): JoinVerifier {
  return joinVerifier(secret, { staffMaxSeconds: config['hub.staffTokenMaxHours'] * 3600, tokensAfter: (slug) => read.joinTokensAfter(slug),
    allowsGuests: (slug) => read.channel(slug)?.allowGuests === true,
  });
}

export interface HubParts {
  log: Logger;
  /** The live session of a channel, if a class is on (the main process knows from its live classes). */
  liveSession(slug: string): string | undefined;
  observe?: HubDeps['observe'];
}

export function createHub(config: Config, store: { read: ReadModel; engagement: Pick<EngagementRepository, 'loadRoom' | 'apply'> }, p: HubParts): { hub: Hub; backplane?: RedisBackplane } {
  const url = config['hub.backplane'];
  const backplane = url ? new RedisBackplane({ url, log: p.log }) : undefined;
  const hub = new Hub({
    tickMs: config['hub.tickMs'], flushMs: 250, chatMaxLength: config['hub.chatMaxLength'], chatBurst: config['hub.chatBurst'],
    chatWindowMs: config['hub.chatWindowSeconds'] * 1000, historySize: 100, presenceEveryMs: 2000, maxQueue: 5000, stageMax: config['stage.maxMembers'], stagePicture: config['webrtc.enabled'] && config['stage.picture'],
  }, {
    channelId: (slug) => store.read.channel(slug)?.id,
    startsAt: (slug) => {
      const c = store.read.channel(slug);
      return c ? nextStart(store.read.classesOf(c.id), Date.now()) ?? c.startsAt : null;
    },
    captionLanguages: (slug) => {
      const c = store.read.channel(slug);
      return c && c.captions !== 'off' ? c.captionLanguages : [];
    },
    loadRoom: (id, session, n) => store.engagement.loadRoom(id, session, n),
    liveSession: p.liveSession,
    persist: (ops) => store.engagement.apply(ops),
    log: p.log,
    backplane,
    observe: p.observe,
  });
  return { hub, backplane };
}
