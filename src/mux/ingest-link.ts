// The relay's way out to Mux's ingest: ffmpeg speaks RTMP to a loopback port of ours and this link carries the
// bytes to the real ingest (plain TCP for rtmp://, TLS verified against the host for rtmps://).
//
// Why not let ffmpeg connect itself: when a publish ends, ffmpeg closes its socket while the server's
// acknowledgements are still arriving; the kernel answers them with a reset, and a reset makes the receiving
// side drop what it had not read yet, the last seconds of the class (measured: 7.9 s of a 10 s class reached an
// RTMP server). The link reads everything both ways, and when ffmpeg is done it half-closes toward the ingest
// and keeps reading until the ingest closes, so the ingest sees an orderly end after the last byte.

import net from 'node:net';
import tls from 'node:tls';

export interface IngestTarget {
  secure: boolean;
  host: string;
  port: number;
  /** "/app/streamkey": the same path ffmpeg would have used. */
  path: string;
  /** The RTMP tcUrl ffmpeg would have sent (the target without its last path segment). */
  tcUrl: string;
}

/** Reads an rtmp:// or rtmps:// URL; undefined for anything else. */
export function parseIngestTarget(url: string): IngestTarget | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'rtmp:' && u.protocol !== 'rtmps:') return undefined;
  const secure = u.protocol === 'rtmps:';
  const port = u.port ? Number(u.port) : secure ? 443 : 1935;
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const path = u.pathname + u.search;
  if (!host || path.split('/').filter(Boolean).length < 2) return undefined;
  const tcUrl = `${u.protocol}//${u.host}${u.pathname.replace(/\/[^/]*$/, '')}`;
  return { secure, host, port, path, tcUrl };
}

export interface LinkStats {
  /** Bytes ffmpeg sent, all handed to the ingest's socket (in its queue or written). */
  sentBytes: number;
  /** Connections that ended with an orderly close from both sides. */
  cleanEnds: number;
  /** Connections that ended with an error on the ingest side (refused, reset, TLS). */
  failedEnds: number;
}

export interface LinkOptions {
  /** How long to wait, once ffmpeg is done, for the ingest to close after our half-close. */
  lingerMs?: number;
  /** Bytes queued toward a slow ingest before ffmpeg is slowed down (default 64 MB). */
  maxQueuedBytes?: number;
  /** For tests and private CAs; default: Node's trust store. */
  tlsOptions?: tls.ConnectionOptions;
}

export class IngestLink {
  readonly stats: LinkStats = { sentBytes: 0, cleanEnds: 0, failedEnds: 0 };
  private readonly server: net.Server;
  private readonly open = new Set<Promise<void>>();
  private port = 0;

  constructor(private readonly target: IngestTarget, private readonly o: LinkOptions = {}) {
    this.server = net.createServer({ allowHalfOpen: true }, (local) => this.carry(local));
  }

  /** Listens on a loopback port; resolves with the URL to give ffmpeg. */
  async start(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as net.AddressInfo).port;
    return this.localUrl;
  }

  get localUrl(): string {
    return `rtmp://127.0.0.1:${this.port}${this.target.path}`;
  }

  /** Waits (bounded) for every connection to finish, then stops listening. */
  async close(): Promise<void> {
    this.server.close();
    await Promise.all([...this.open]);
  }

  private carry(local: net.Socket): void {
    const t = this.target;
    const lingerMs = this.o.lingerMs ?? 10000;
    // Our end() only closes our sending side; reading goes on until the ingest closes (TLS and plain alike).
    const remote: net.Socket = t.secure
      ? tls.connect({ host: t.host, port: t.port, servername: net.isIP(t.host) ? undefined : t.host, ...this.o.tlsOptions })
      : net.connect({ host: t.host, port: t.port, allowHalfOpen: true });
    let failed = false;
    let linger: NodeJS.Timeout | undefined;
    const done = new Promise<void>((resolve) => {
      remote.once('close', () => {
        clearTimeout(linger);
        if (failed) this.stats.failedEnds += 1;
        else this.stats.cleanEnds += 1;
        local.destroy();
        resolve();
      });
    });
    this.open.add(done);
    void done.then(() => this.open.delete(done));

    // ffmpeg → ingest. Read from ffmpeg at once and queue here (bounded): ffmpeg may reset its socket when it
    // exits, and what still waits in our kernel buffer then is lost; what is queued here is not. Past the bound a
    // slow uplink slows ffmpeg, whose own input is the bounded pipe.
    const maxQueued = this.o.maxQueuedBytes ?? 64 * 1024 * 1024;
    local.on('data', (d: Buffer) => {
      remote.write(d);
      this.stats.sentBytes += d.length;
      if (remote.writableLength > maxQueued) local.pause();
    });
    remote.on('drain', () => local.resume());
    // ffmpeg is done (or gone): end our side after the last byte, keep reading until the ingest closes.
    const finish = (): void => {
      if (remote.writableEnded) return;
      remote.end();
      linger = setTimeout(() => remote.destroy(), lingerMs);
    };
    local.on('end', finish);
    local.on('close', finish);
    // A reset from ffmpeg's side changes nothing for the ingest: what we read is already on its way.
    local.on('error', () => undefined);

    // ingest → ffmpeg: handshake, connect and publish answers, acknowledgements. Read always; drop once ffmpeg left.
    remote.on('data', (d: Buffer) => {
      if (!local.destroyed && local.writable) local.write(d);
    });
    remote.on('end', () => local.end());
    remote.on('error', () => {
      failed = true;
      local.destroy(); // ffmpeg sees the failure as it would have without the link
    });
  }
}
