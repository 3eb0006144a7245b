// The store: one open database and a repository per aggregate. Components receive the repositories they need.

import { ApiTokenRepo } from './api-tokens.js';
import { ChannelRepo } from './channels.js';
import { openDb, type Db, type OpenOptions } from './db.js';
import { BeaconRepo } from './beacons.js';
import { EngagementRepo } from './engagement.js';
import { MuxRepo } from './mux.js';
import { SessionRepo } from './sessions.js';
import { StreamKeyRepo } from './stream-keys.js';
import { LtiRepo } from './lti.js';
import { ClassRepo } from './classes.js';
import { ReportRepo } from './reports.js';

export interface Store {
  db: Db;
  channels: ChannelRepo;
  streamKeys: StreamKeyRepo;
  apiTokens: ApiTokenRepo;
  sessions: SessionRepo;
  engagement: EngagementRepo;
  beacons: BeaconRepo;
  mux: MuxRepo;
  lti: LtiRepo;
  classes: ClassRepo;
  reports: ReportRepo;
  close(): void;
}

export function openStore(file: string, opts: OpenOptions = {}): Store {
  const db = openDb(file, opts);
  return {
    db,
    channels: new ChannelRepo(db),
    streamKeys: new StreamKeyRepo(db),
    apiTokens: new ApiTokenRepo(db),
    sessions: new SessionRepo(db),
    engagement: new EngagementRepo(db),
    beacons: new BeaconRepo(db),
    mux: new MuxRepo(db),
    lti: new LtiRepo(db),
    classes: new ClassRepo(db),
    reports: new ReportRepo(db),
    close: () => {
      if (db.open) db.close();
    },
  };
}
