// JSON Schemas (2020-12) of the REST API's JSON request bodies: the same objects are published in
// /api/openapi.json and used to check each body before its handler reads it (validate.ts). Pure data.

import type { BeaconBody } from '../domain/wire.js';

const slug = { type: 'string', pattern: '^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$', description: 'a channel slug' } as const;
const str = (maxLength: number, description: string) => ({ type: 'string', maxLength, description }) as const;
const num = (description: string) => ({ type: ['number', 'null'], description }) as const;

export const BODY_SCHEMAS = {
  CaptionEdit: {
    type: 'object',
    description: 'A caption line as the instructor corrected it.',
    required: ['text'],
    additionalProperties: false,
    properties: { text: { type: 'string', minLength: 1, maxLength: 200, pattern: '\\S', description: 'the line, 1-200 characters (a line break allowed)' } },
  },
  JoinTokenRequest: {
    type: 'object',
    description: 'Who the join token is for.',
    required: ['user', 'name', 'role'],
    properties: {
      user: str(128, 'the LMS user id (the token\'s subject), 1-128 characters'),
      name: str(80, 'display name, 1-80 printable characters'),
      role: { enum: ['learner', 'instructor', 'moderator', 'viewer', 'captioner'] },
      ttl: { type: 'string', maxLength: 10, description: 'lifetime: 90m, 4h or 2d (at most 30d; default 4h)' },
    },
  },
  ClassRequest: {
    type: 'object',
    description: 'A class to schedule on the channel.',
    required: ['title', 'startsAt', 'minutes'],
    properties: {
      title: str(200, '1-200 printable characters'),
      startsAt: str(40, 'ISO 8601 with a zone (2026-12-01T09:00:00Z), or YYYY-MM-DDTHH:MM with tzOffsetMinutes'),
      tzOffsetMinutes: { type: ['integer', 'string'], description: 'minutes to add to a local time to get UTC' },
      minutes: { type: ['integer', 'string'], description: 'planned length, 5-600' },
      record: { type: ['boolean', 'string'], description: 'default: the channel\'s setting' },
      archive: { type: ['boolean', 'string'], description: 'default: the channel\'s setting' },
    },
  },
  PlatformRequest: {
    type: 'object',
    description: 'An LMS registration (LTI 1.3 platform).',
    required: ['issuer', 'clientId', 'authUrl', 'tokenUrl', 'jwksUrl'],
    properties: {
      issuer: str(2000, 'the platform\'s issuer URL'),
      clientId: str(255, 'the client id the LMS gave this tool'),
      authUrl: str(2000, 'OIDC authorization endpoint (https)'),
      tokenUrl: str(2000, 'OAuth 2 token endpoint (https)'),
      jwksUrl: str(2000, 'the platform\'s JWKS URL (https)'),
      deploymentIds: { type: 'array', items: str(255, 'a deployment id'), maxItems: 100 },
      serviceHosts: { type: 'array', items: str(253, 'a host the LMS\'s services live on besides the registration\'s own'), maxItems: 20 },
    },
  },
  Beacon: {
    type: 'object',
    description: 'A player\'s quality-of-experience report (the watch page sends one every 10 s while a class plays). At most 12 a minute per viewer.',
    required: ['channel', 'token'],
    properties: {
      channel: slug,
      token: str(8192, 'the viewer\'s join token (a guest: the token from the hub\'s guest_token message)'),
      sessionId: { type: ['string', 'null'], maxLength: 64 },
      startupMs: num('time to first frame'),
      rebuffers: num('stalls since the last beacon'),
      rebufferMs: num('stalled time since the last beacon'),
      playedMs: num('played time since the last beacon'),
      bitrate: num('current rendition bitrate, bit/s'),
      rendition: { type: ['string', 'null'], maxLength: 200 },
      latencyMs: num('distance to the live edge'),
      errors: { type: 'array', items: { type: 'string' }, maxItems: 100 },
    } satisfies Record<keyof BeaconBody, unknown>, // one property per field of the page's beacon, no more, no less
  },
} as const;

export type BodySchemaName = keyof typeof BODY_SCHEMAS;
