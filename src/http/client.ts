// Who sent a request: the address rate limits count by, and whether it came straight from this box. Pure.
// A proxy on this box (the TLS front, a worker process) is loopback itself, so a request carrying a proxy's
// forwarding header is never "local", and its client is the address the proxy appended last.

export interface Client {
  /** The address limits count by (the proxy-reported client when a proxy on this box forwarded it). */
  address: string;
  /** Straight from loopback, through no proxy: /metrics answers such requests without a token. */
  local: boolean;
}

/** True for 127.0.0.0/8 and ::1, in any of the spellings sockets report them. */
export function isLoopback(address: string): boolean {
  const a = address.toLowerCase().replace(/^::ffff:/, '').replace(/^0{0,4}(:0{0,4}){4}:ffff:/, '');
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a)) return true;
  if (a === '::1' || /^(0{1,4}:){7}0{0,3}1$/.test(a)) return true;
  // uWS spells an IPv4-mapped address in full hex: 0000:…:ffff:7f00:0001
  return /^7f[0-9a-f]{2}:[0-9a-f]{1,4}$/.test(a);
}

export interface ForwardHeaders {
  xForwardedFor: string;
  xRealIp: string;
  forwarded: string;
}

export function clientOf(remote: string, h: ForwardHeaders): Client {
  const proxied = h.xForwardedFor !== '' || h.xRealIp !== '' || h.forwarded !== '';
  if (!proxied) return { address: remote, local: isLoopback(remote) };
  // Only a proxy on this box is believed about who its client is; anyone else could write the header.
  if (!isLoopback(remote)) return { address: remote, local: false };
  const last = h.xForwardedFor.split(',').map((s) => s.trim()).filter(Boolean).pop();
  const forwardedFor = [...h.forwarded.matchAll(/for="?\[?([^\]";,]+)/gi)].pop()?.[1];
  return { address: (last ?? (h.xRealIp.trim() || forwardedFor) ?? remote).slice(0, 64), local: false };
}
