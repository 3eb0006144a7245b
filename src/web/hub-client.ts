// The page's connection to the engagement hub: connects, reconnects with backoff, dispatches typed messages
// (the server's own wire types, src/domain/wire.ts).

import type { ClientMsg, RoomEvent, ServerMsg } from '../domain/wire.js';

export type Welcome = Extract<ServerMsg, { t: 'welcome' }>;
/** What is sent to this page alone (not a welcome, not a batch of room events). */
export type DirectMsg = Exclude<ServerMsg, { t: 'welcome' } | { t: 'batch' }>;

export interface HubHandlers {
  welcome(m: Welcome): void;
  event(e: RoomEvent): void;
  direct(m: DirectMsg): void;
  status(s: 'connecting' | 'open' | 'closed' | 'refused' | 'banned'): void;
}

export class HubClient {
  private ws?: WebSocket;
  private backoff = 1000;
  private stopped = false;
  private opened = false;

  constructor(public url: string, private readonly h: HubHandlers) {}

  connect(): void {
    this.h.status('connecting');
    const ws = new WebSocket(this.url);
    this.ws = ws;
    this.opened = false;
    ws.onopen = () => {
      this.opened = true;
      this.backoff = 1000;
      this.h.status('open');
    };
    ws.onmessage = (ev) => {
      let m: ServerMsg;
      try {
        m = JSON.parse(String(ev.data)) as ServerMsg; // the server's frames: ServerMsg by construction
      } catch {
        return;
      }
      if (m.t === 'welcome') this.h.welcome(m);
      else if (m.t === 'batch') for (const e of m.events) this.h.event(e);
      else this.h.direct(m);
    };
    ws.onclose = (ev) => {
      if (this.stopped) return;
      if (ev.code === 4003) return this.h.status('banned');
      // A refused upgrade never opens: the link is not valid, retrying will not help.
      if (!this.opened) return this.h.status('refused');
      this.h.status('closed');
      setTimeout(() => this.connect(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, 15000);
    };
  }

  send(msg: ClientMsg): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ v: 1, ...msg }));
  }

  close(): void {
    this.stopped = true;
    this.ws?.close();
  }
}

export function hubUrl(params: URLSearchParams, channel: string): string {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const token = params.get('token');
  const q = token ? `token=${encodeURIComponent(token)}` : `channel=${encodeURIComponent(channel)}&name=${encodeURIComponent(params.get('name') ?? '')}`;
  return `${proto}//${location.host}/ws?${q}`;
}
