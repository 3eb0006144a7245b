// Mux webhook signatures as Mux sends them ("t=<unix time>,v1=<HMAC-SHA256 of `${t}.${body}`>") and a POST helper.

import { createHmac } from 'node:crypto';

export function signWebhook(body: string, secret: string): string {
  const ts = Math.floor(Date.now() / 1000);
  return `t=${ts},v1=${createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex')}`;
}

export const postWebhook = (base: string, body: string, signature: string): Promise<Response> =>
  fetch(`${base}/webhooks/mux`, { method: 'POST', headers: { 'mux-signature': signature, 'Content-Type': 'application/json' }, body });
