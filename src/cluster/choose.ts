// Which box an instructor should push a channel's class to (pure): the box already running it; else the one pinned
// with --node (a name no box has is an error either way); else the answering box with the most transcode budget free.

import type { ClaimRow, NodeRow } from '../store/ports.js';

export interface Choice { name: string; rtmp: string; url: string; why: string }

const free = (n: NodeRow): number => {
  try {
    const l = JSON.parse(n.load) as { used?: number; budget?: number };
    return (l.budget ?? 0) - (l.used ?? 0);
  } catch {
    return 0;
  }
};

export function chooseBox(nodes: readonly NodeRow[], claims: readonly ClaimRow[], channelId: number, now: number, pinned?: string): Choice | { error: string } {
  const alive = nodes.filter((n) => n.leaseUntil >= now);
  const live = claims.find((c) => c.channelId === channelId && c.until >= now);
  const running = live && nodes.find((n) => n.name === live.node);
  const named = pinned === undefined ? undefined : nodes.find((x) => x.name === pinned);
  if (pinned !== undefined && !named) return { error: `no box named "${pinned}" has joined the store (boxes: ${nodes.map((x) => x.name).join(', ') || 'none'})` };
  // A live class stays where it runs: a push elsewhere would be refused.
  if (running) return { name: running.name, rtmp: running.rtmp, url: running.url, why: named && named !== running ? `the class is live there now (not ${pinned})` : 'the class is live there now' };
  if (named) {
    const n = named;
    return { name: n.name, rtmp: n.rtmp, url: n.url, why: n.leaseUntil >= now ? 'pinned with --node' : 'pinned with --node (it is not answering now)' };
  }
  if (alive.length === 0) return { error: nodes.length ? 'no box is answering: start kmk-live serve on one' : 'no box has joined the store yet: start kmk-live serve' };
  const best = alive.reduce((a, b) => (free(b) > free(a) ? b : a));
  return { name: best.name, rtmp: best.rtmp, url: best.url, why: `the most transcode budget free (${(free(best) / 1e6).toFixed(0)} Mpx/s)` };
}
