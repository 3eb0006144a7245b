// The read model on the SQLite file: every read first compares the tables' versions (one local query), so the
// copy is current with every committed write, from this process or another (the CLI).

import { ReadCopy, type Copy } from '../sql/read-copy.js';
import type { ChannelRepo } from '../sql/channels.js';
import type { ClassRepo } from '../sql/classes.js';
import type { LtiRepo } from '../sql/lti.js';
import type { SqliteRunner } from './run.js';

export class SqliteReadModel extends ReadCopy {
  constructor(private readonly runner: SqliteRunner, repos: { channels: ChannelRepo; classes: ClassRepo; lti: LtiRepo }) {
    super(repos, false);
  }

  protected current(): Copy {
    this.runner.run(this.refresh());
    return this.copy;
  }

  protected missedSession(sessionId: string): string | undefined {
    return this.runner.run(this.askSession(sessionId));
  }
}
