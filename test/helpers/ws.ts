// A real WebSocket client (the `ws` package) with a message log and waits, for the hub tests.

import WebSocket from 'ws';

export interface Msg {
  v: number;
  t: string;
  [k: string]: unknown;
}

export interface Event {
  t: string;
  [k: string]: unknown;
}

export class Client {
  readonly messages: Msg[] = [];
  closed?: { code: number; reason: string };
  private waiters: (() => void)[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      if (!isBinary) this.messages.push(JSON.parse(data.toString()) as Msg);
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
  }

  /** `localAddress`: the loopback address to connect from (127.x.y.z), which changes how SO_REUSEPORT spreads it. */
  static connect(url: string, headers: Record<string, string> = {}, localAddress?: string): Promise<Client> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers, ...(localAddress ? { localAddress } : {}) });
      const c = new Client(ws);
      ws.once('open', () => resolve(c));
      ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`refused with HTTP ${res.statusCode}`), { status: res.statusCode })));
      ws.once('error', (err) => reject(err));
    });
  }

  /** The HTTP status of a refused upgrade, or 101 when it was accepted. */
  static async status(url: string, headers: Record<string, string> = {}): Promise<number> {
    try {
      const c = await Client.connect(url, headers);
      c.close();
      return 101;
    } catch (err) {
      return (err as { status?: number }).status ?? 0;
    }
  }

  send(msg: object | string): void {
    this.ws.send(typeof msg === 'string' ? msg : JSON.stringify({ v: 1, ...msg }));
  }

  close(): void {
    this.ws.close();
  }

  /** Every event received in batch frames, in order. */
  get events(): Event[] {
    return this.messages.filter((m) => m.t === 'batch').flatMap((m) => m.events as Event[]);
  }

  get welcome(): Msg {
    const w = this.messages.find((m) => m.t === 'welcome');
    if (!w) throw new Error('no welcome yet');
    return w;
  }

  errors(code?: string): Msg[] {
    return this.messages.filter((m) => m.t === 'error' && (code === undefined || m.code === code));
  }

  async waitFor<T>(what: string, fn: () => T | undefined | false, timeoutMs = 5000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = fn();
      if (v !== undefined && v !== false) return v;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; last messages: ${JSON.stringify(this.messages.slice(-5)).slice(0, 800)}`);
      await new Promise<void>((r) => {
        const timer = setTimeout(r, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(timer);
          r();
        });
      });
    }
  }

  event(t: string, pred: (e: Event) => boolean = () => true): Promise<Event> {
    return this.waitFor(`event ${t}`, () => this.events.find((e) => e.t === t && pred(e)));
  }

  error(code: string): Promise<Msg> {
    return this.waitFor(`error ${code}`, () => this.errors(code)[0]);
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}
