// The hub's backplane on Redis (ioredis): pub/sub for the messages between processes, a lease key per room for
// its owner, a list for the engagement records on their way to the one SQLite writer. A thin shell: the rules
// live in hub.ts; this file only moves bytes and keeps the connection.

// ioredis is loaded only when a backplane is configured (about 20 MB of a process that never uses it).
import type { Redis } from 'ioredis';
import type { Logger } from '../log.js';
import type { EngagementOp } from '../domain/records.js';
import { decodeIn, decodeOut, type Backplane, type BackplaneHandlers, type InMsg, type OutMsg } from './backplane.js';

export const KEYS = {
  in: 'kmk:hub:in',
  out: 'kmk:hub:out',
  node: 'kmk:hub:node',
  owner: (slug: string) => `kmk:hub:owner:${slug}`,
  persist: 'kmk:hub:persist',
  writer: 'kmk:hub:writer',
};
export const LEASE_MS = 6000;

// Renews a lease held by ARGV[1], or takes it if nobody holds it (Redis restarted without its data).
const RENEW = `local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

export interface RedisBackplaneOptions {
  url: string;
  log: Logger;
  /** Startup gives up after this long without Redis (ms). */
  connectTimeoutMs?: number;
}

/** Connects two clients to `url` (commands, subscriptions), failing with a clear message if Redis is not there. */
export async function connectRedis(url: string, name: string, timeoutMs: number, log: Logger): Promise<Redis> {
  const { Redis } = await import('ioredis');
  const client = new Redis(url, {
    lazyConnect: true,
    connectionName: name,
    maxRetriesPerRequest: null, // while Redis restarts, commands wait in the offline queue instead of failing
    retryStrategy: (n) => Math.min(100 * n, 2000),
    enableAutoPipelining: true,
  });
  let lastError = '';
  client.on('error', (err: Error) => {
    if (err.message !== lastError) log.warn('redis connection error', { client: name, err: err.message });
    lastError = err.message;
  });
  client.on('ready', () => {
    if (lastError) log.info('redis connection back', { client: name });
    lastError = '';
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.connect(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
      }),
    ]);
  } catch (err) {
    client.disconnect();
    throw new Error(`hub.backplane ${redact(url)}: cannot connect to Redis (${err instanceof Error ? err.message : String(err)})`);
  } finally {
    clearTimeout(timer);
  }
  return client;
}

/** QUIT (bounded to 1 s), then drop the socket whatever state the client is in, so nothing reconnects. */
export async function closeRedis(client: Redis | undefined): Promise<void> {
  if (!client) return;
  if (client.status === 'ready') await Promise.race([client.quit().catch(() => {}), new Promise((r) => setTimeout(r, 1000).unref())]);
  client.disconnect(false);
}

/** The URL without its password, for messages. */
export const redact = (url: string): string => url.replace(/\/\/([^@/]*)@/, '//<credentials>@');

export class RedisBackplane implements Backplane {
  node = 0;
  private cmd?: Redis;
  private sub?: Redis;
  private readyOnce = false;
  readonly counters = { published: 0, received: 0, malformed: 0, publishErrors: 0 };

  constructor(private readonly o: RedisBackplaneOptions) {}

  get connected(): boolean {
    return this.cmd?.status === 'ready' && this.sub?.status === 'ready';
  }

  async start(h: BackplaneHandlers): Promise<void> {
    const timeout = this.o.connectTimeoutMs ?? 5000;
    this.cmd = await connectRedis(this.o.url, 'kmk-hub', timeout, this.o.log);
    try {
      this.sub = await connectRedis(this.o.url, 'kmk-hub-sub', timeout, this.o.log);
    } catch (err) {
      this.cmd.disconnect();
      throw err;
    }
    this.node = await this.cmd.incr(KEYS.node);
    this.sub.on('message', (channel: string, text: string) => {
      this.counters.received += 1;
      // Every message carries its sender's node first: `<node> <json>`; a process ignores its own.
      const sp = text.indexOf(' ');
      if (sp < 0 || Number(text.slice(0, sp)) === this.node) return;
      const body = text.slice(sp + 1);
      if (channel === KEYS.in) {
        const m = decodeIn(body);
        if (m) h.toOwner(m);
        else this.counters.malformed += 1;
      } else if (channel === KEYS.out) {
        const m = decodeOut(body);
        if (m) h.fromOwner(m);
        else this.counters.malformed += 1;
      }
    });
    await this.sub.subscribe(KEYS.in, KEYS.out);
    this.readyOnce = true;
    // After a loss, ioredis resubscribes by itself; the hub then checks leases and members again.
    this.sub.on('ready', () => {
      if (this.readyOnce) h.reconnected();
    });
    this.o.log.info('hub backplane connected', { redis: redact(this.o.url), node: this.node });
  }

  async stop(): Promise<void> {
    await Promise.all([closeRedis(this.cmd), closeRedis(this.sub)]);
  }

  async claim(slug: string): Promise<boolean> {
    return (await this.cmd!.set(KEYS.owner(slug), String(this.node), 'PX', LEASE_MS, 'NX')) === 'OK';
  }

  async renew(slugs: string[]): Promise<Set<string>> {
    const results = await Promise.all(slugs.map((s) => this.cmd!.eval(RENEW, 1, KEYS.owner(s), String(this.node), String(LEASE_MS))));
    return new Set(slugs.filter((_, i) => results[i] === 1));
  }

  async release(slugs: string[]): Promise<void> {
    await Promise.all(slugs.map((s) => this.cmd!.eval(RELEASE, 1, KEYS.owner(s), String(this.node))));
  }

  toOwner(m: InMsg): void {
    this.publish(KEYS.in, m);
  }

  fromOwner(m: OutMsg): void {
    this.publish(KEYS.out, m);
  }

  async persist(ops: EngagementOp[]): Promise<void> {
    if (ops.length) await this.cmd!.rpush(KEYS.persist, ...ops.map((op) => JSON.stringify(op)));
  }

  private publish(channel: string, m: InMsg | OutMsg): void {
    this.counters.published += 1;
    this.cmd!.publish(channel, `${this.node} ${JSON.stringify(m)}`).catch(() => {
      this.counters.publishErrors += 1;
    });
  }
}
