// The read model on PostgreSQL: the copy is refreshed after every write this process makes (before the write's
// promise resolves), when another box's write notifies channel `kmk_read`, and every second in case a notice was
// lost (a dropped connection). Reads never wait on the network: they see the copy as it stands.

import pg from 'pg';
import { ReadCopy, type Copy } from '../sql/read-copy.js';
import type { Repos } from '../sql/repos.js';
import type { PgRunner } from './run.js';

export class PgReadModel extends ReadCopy {
  private chain: Promise<void> = Promise.resolve();
  private queued: Promise<void> | null = null;
  private listener?: pg.Client;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  /** Refreshes that failed (the store unreachable), for /healthz and the logs. */
  failures = 0;
  lastError: Error | null = null;

  constructor(private readonly runner: PgRunner, repos: Repos, private readonly url: string, private readonly onError: (err: Error) => void = () => undefined) {
    super(repos, true);
  }

  protected current(): Copy {
    return this.copy;
  }

  protected missedSession(): string | undefined {
    return undefined; // every session is in the copy
  }

  /** Brings the copy up to date; calls made while one waits to start share it. */
  sync(): Promise<void> {
    if (this.queued) return this.queued;
    const next = this.chain.then(async () => {
      this.queued = null;
      try {
        await this.runner.run(this.refresh());
        this.lastError = null;
      } catch (err) {
        this.failures += 1;
        this.lastError = err as Error;
        throw err;
      }
    });
    this.queued = next;
    this.chain = next.catch(() => undefined);
    return next;
  }

  async start(): Promise<void> {
    await this.sync();
    this.timer = setInterval(() => void this.sync().catch(() => undefined), 1000);
    this.timer.unref();
    await this.listen().catch((err: Error) => this.onError(err));
  }

  private async listen(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 5000 });
    const again = (err?: Error): void => {
      if (err) this.onError(err);
      if (this.listener !== client || this.stopped) return;
      this.listener = undefined;
      client.end().catch(() => undefined);
      setTimeout(() => void this.listen().catch(again), 1000).unref();
    };
    this.listener = client;
    client.on('error', again);
    client.on('end', () => again());
    client.on('notification', () => void this.sync().catch(() => undefined));
    await client.connect();
    await client.query('LISTEN kmk_read');
    // What changed while not listening.
    await this.sync().catch(() => undefined);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    const l = this.listener;
    this.listener = undefined;
    await l?.end().catch(() => undefined);
    await this.chain;
  }
}
