// POST /api/channels/<slug>/join-tokens: the body parsed, the claims checked by the hub's minting rules, the
// token and the learner's URLs answered. Pure given the secret and the clock.

import { readBody } from './validate.js';
import { ForbiddenError, UserError } from '../domain/errors.js';
import { mint, type MintPolicy } from '../auth/mint.js';
import { json, type HttpAnswer } from './app.js';

export function joinTokenAnswer(channel: string, body: string, exists: boolean, secret: Buffer, nowSeconds: number, policy: MintPolicy): HttpAnswer {
  if (!exists) return json(404, { error: 'not_found', message: 'no such channel' });
  const input = readBody('JoinTokenRequest', body);
  if (typeof input === 'string') {
    return json(400, { error: 'bad_request', message: `${input}; send a JSON object: {"user": "...", "name": "...", "role": "learner", "ttl": "4h"}` });
  }
  try {
    const { token, claims } = mint({ channel, user: input.user, name: input.name, role: input.role, ttl: input.ttl }, secret, nowSeconds, policy);
    return json(201, { token, expiresAt: new Date(claims.exp * 1000).toISOString(), watchUrl: `/watch/${channel}?token=${token}`, wsUrl: `/ws?token=${token}` });
  } catch (err) {
    if (err instanceof ForbiddenError) return json(403, { error: 'forbidden', message: err.message });
    if (err instanceof UserError) return json(400, { error: 'bad_request', message: err.message });
    throw err;
  }
}
