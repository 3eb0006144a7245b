// The OpenAPI 3.1 description of every HTTP route, served at /api/openapi.json. Request bodies refer to the same
// JSON Schemas the handlers validate with (api-schemas.ts); test/openapi.test.ts checks this table against the
// server's route table both ways.

import { BODY_SCHEMAS, type BodySchemaName } from './api-schemas.js';

type Method = 'get' | 'head' | 'options' | 'post' | 'patch' | 'delete';
type Auth = 'none' | 'metrics' | 'api' | 'api-or-instructor' | 'join' | 'instructor' | 'mux' | 'lms' | 'publisher';

interface Op {
  method: Method;
  path: string;
  tag: string;
  summary: string;
  auth: Auth;
  /** OAuth-style scope of the API token, when auth is 'api'. */
  scope?: string;
  body?: BodySchemaName | 'form' | 'mux';
  /** Response status → description; content type of the 200/201 answer. */
  responses: Record<string, string>;
  type?: string;
  query?: { name: string; description: string }[];
}

const JSON_T = 'application/json';
const media = (kind: 'hls' | 'vod', owner: string): Op[] => (['get', 'head', 'options'] as const).map((method) => ({
  method, path: `/${kind}/{path}`, tag: 'media', auth: 'none' as const, type: 'application/vnd.apple.mpegurl',
  summary: method === 'options' ? 'CORS preflight for players on other origins'
    : `${kind === 'hls' ? 'Live' : 'Recorded'} HLS: ${owner}/master.m3u8, rendition playlists and segments (a playback token \`pt\` on private channels; ETag and 304)`,
  responses: method === 'options' ? { 204: 'CORS headers' } as Record<string, string> : { 200: 'the file', 206: 'a byte range', 304: 'not modified', 403: 'playback token missing or invalid', 404: 'no such file' },
}));
const page = (path: string, summary: string): Op[] => (['get', 'head'] as const).map((method) => ({
  method, path, tag: 'pages', auth: 'none' as const, type: 'text/html', summary, responses: { 200: 'the page', 404: 'no such channel' },
}));

export const OPERATIONS: Op[] = [
  { method: 'get', path: '/healthz', tag: 'ops', summary: 'Liveness: "ok", or "degraded" with the reason while a shared store (store.url) is out of reach', auth: 'none', responses: { 200: 'alive' }, type: JSON_T },
  { method: 'get', path: '/metrics', tag: 'ops', summary: 'Prometheus metrics (all processes with serve --workers)', auth: 'metrics', type: 'text/plain', responses: { 200: 'exposition text', 401: 'metrics.token is set and was not sent' } },
  { method: 'get', path: '/api/openapi.json', tag: 'ops', summary: 'This document', auth: 'none', type: JSON_T, responses: { 200: 'OpenAPI 3.1' } },
  { method: 'get', path: '/api/status', tag: 'ops', summary: 'Live classes, where they run, the transcode budget, disk', auth: 'api', scope: 'sessions:read', type: JSON_T, responses: { 200: 'status' } },
  ...media('hls', '<channel>'),
  ...media('vod', '<session>'),
  { method: 'get', path: '/api/sessions', tag: 'sessions', summary: 'Recent sessions', auth: 'api', scope: 'sessions:read', type: JSON_T, responses: { 200: 'sessions', 400: 'bad limit or channel' },
    query: [{ name: 'limit', description: '1-1000, default 50' }, { name: 'channel', description: 'a channel slug' }] },
  { method: 'get', path: '/api/sessions/{id}', tag: 'sessions', summary: 'One session', auth: 'api', scope: 'sessions:read', type: JSON_T, responses: { 200: 'the session', 404: 'no such session' } },
  { method: 'get', path: '/api/sessions/{id}/replay', tag: 'playback', summary: 'What to replay: the kept recording or the Mux archive', auth: 'join', type: JSON_T, responses: { 200: 'a playback URL', 404: 'no replay' } },
  { method: 'get', path: '/api/sessions/{id}/transcript', tag: 'playback', summary: 'A recorded session\'s caption lines for its replay (docs/captions.md)', auth: 'join', type: JSON_T, responses: { 200: 'the transcript (no lines when the class had no captions)', 401: 'a join token for the class is required', 404: 'no recording here' } },
  { method: 'patch', path: '/api/sessions/{id}/captions/{cue}', tag: 'playback', summary: 'Correct one caption line (the replay\'s captions and transcript follow)', auth: 'instructor', body: 'CaptionEdit', type: JSON_T, responses: { 200: 'the corrected line', 400: 'invalid text', 401: 'instructor join token needed', 404: 'no such line' } },
  { method: 'get', path: '/api/sessions/{id}/report', tag: 'reports', summary: 'Class report (attendance, engagement, QoE); ?format=csv', auth: 'api-or-instructor', scope: 'sessions:read', type: JSON_T, responses: { 200: 'the report', 404: 'no such session' } },
  { method: 'get', path: '/api/channels/{slug}/sessions', tag: 'reports', summary: 'A channel\'s sessions', auth: 'api-or-instructor', scope: 'sessions:read', type: JSON_T, responses: { 200: 'sessions', 404: 'no such channel' } },
  { method: 'get', path: '/api/courses/{id}/attendance.csv', tag: 'reports', summary: 'Course attendance', auth: 'api-or-instructor', scope: 'sessions:read', type: 'text/csv', responses: { 200: 'CSV', 404: 'no such course' } },
  { method: 'get', path: '/api/reports/cost', tag: 'reports', summary: 'Cost report (docs/cost.md); ?from=&to=&channel=&format=csv', auth: 'api', scope: 'sessions:read', type: JSON_T, responses: { 200: 'the report', 400: 'bad range' } },
  { method: 'post', path: '/api/channels/{slug}/join-tokens', tag: 'hub', summary: 'Mint a join token for a learner', auth: 'api', scope: 'tokens:join', body: 'JoinTokenRequest', type: JSON_T,
    responses: { 201: 'the token and the learner\'s URLs', 400: 'invalid body', 404: 'no such channel' } },
  { method: 'get', path: '/api/channels/{slug}/playback', tag: 'playback', summary: 'What to play now: the local ladder or Mux (overflow)', auth: 'join', type: JSON_T, responses: { 200: 'a playback URL', 401: 'a join token is needed', 404: 'no such channel' } },
  { method: 'get', path: '/api/channels/{slug}/health', tag: 'studio', summary: 'Live health for the studio', auth: 'instructor', type: JSON_T, responses: { 200: 'health', 401: 'instructor join token needed' } },
  { method: 'post', path: '/api/channels/{slug}/stream-key', tag: 'studio', summary: 'Rotate the stream key from the studio (printed once)', auth: 'instructor', type: JSON_T, responses: { 200: 'the new key', 401: 'instructor join token needed' } },
  { method: 'get', path: '/api/channels/{slug}/classes', tag: 'classes', summary: 'Scheduled classes', auth: 'api-or-instructor', scope: 'sessions:read', type: JSON_T, responses: { 200: 'classes', 404: 'no such channel' } },
  { method: 'post', path: '/api/channels/{slug}/classes', tag: 'classes', summary: 'Schedule a class', auth: 'api-or-instructor', scope: 'channels:write', body: 'ClassRequest', type: JSON_T,
    responses: { 201: 'the class', 400: 'invalid body', 404: 'no such channel' } },
  { method: 'delete', path: '/api/classes/{id}', tag: 'classes', summary: 'Cancel a class', auth: 'api-or-instructor', scope: 'channels:write', type: JSON_T, responses: { 200: 'cancelled', 404: 'no such class' } },
  { method: 'post', path: '/api/beacon', tag: 'playback', summary: 'A player\'s quality-of-experience report', auth: 'none', body: 'Beacon', responses: { 204: 'stored', 400: 'invalid body or token' } },
  { method: 'options', path: '/whip/{channel}', tag: 'whip', summary: 'WHIP (RFC 9725): what the endpoint takes; the ICE servers as Link headers', auth: 'none', responses: { 204: 'Accept-Post: application/sdp', 404: 'webrtc.enabled is off' } },
  { method: 'post', path: '/whip/{channel}', tag: 'whip', summary: 'Go live over WebRTC: an SDP offer in, the answer and the session URL (Location) out', auth: 'publisher', type: 'application/sdp', responses: { 201: 'the SDP answer', 400: 'malformed or unanswerable offer', 401: 'unknown or revoked stream key', 404: 'no such channel, or WebRTC off', 409: 'the channel is live already', 415: 'not application/sdp', 429: 'address throttled after bad keys', 503: 'disk low, over budget, shutting down or too many publishers' } },
  { method: 'get', path: '/whip/{channel}', tag: 'whip', summary: 'Says that this is a WHIP endpoint (405)', auth: 'none', responses: { 405: 'use POST' } },
  { method: 'patch', path: '/whip/{channel}/{id}', tag: 'whip', summary: 'Trickled ICE candidates (application/trickle-ice-sdpfrag); an ICE restart is refused (POST again)', auth: 'publisher', responses: { 204: 'taken', 400: 'bad candidate', 401: 'no bearer', 404: 'no such session', 405: 'ICE restart', 415: 'not a trickle-ice-sdpfrag' } },
  { method: 'delete', path: '/whip/{channel}/{id}', tag: 'whip', summary: 'End the class', auth: 'publisher', responses: { 200: 'ended', 401: 'no bearer', 404: 'no such session' } },
  { method: 'get', path: '/whip/{channel}/{id}', tag: 'whip', summary: 'Says what a WHIP session URL takes (405)', auth: 'none', responses: { 405: 'use PATCH or DELETE' } },
  { method: 'options', path: '/stage/{channel}', tag: 'stage', summary: 'The stage\'s WebRTC endpoint: what it takes; the ICE servers as Link headers', auth: 'none', responses: { 204: 'Accept-Post: application/sdp', 404: 'webrtc.enabled is off' } },
  { method: 'post', path: '/stage/{channel}', tag: 'stage', summary: 'A stage member\'s media: an SDP offer (a microphone, a camera optional, receive slots) in, the answer and the connection URL (Location) out; ?host=1 for the streaming instructor', auth: 'join', type: 'application/sdp', responses: { 201: 'the SDP answer', 400: 'malformed offer', 401: 'no join token of this channel', 403: 'not on this class\'s stage (or host=1 from a non-instructor)', 404: 'no such channel, or WebRTC off', 409: 'the class is not live on this box', 415: 'not application/sdp', 503: 'too many stage connections' } },
  { method: 'get', path: '/stage/{channel}', tag: 'stage', summary: 'Says what the stage endpoint is for (405)', auth: 'none', responses: { 405: 'use POST' } },
  { method: 'delete', path: '/stage/{channel}/{id}', tag: 'stage', summary: 'Hang up the stage connection', auth: 'join', responses: { 200: 'left', 401: 'no bearer', 404: 'no such connection' } },
  { method: 'post', path: '/webhooks/mux', tag: 'mux', summary: 'Mux\'s webhooks (signature checked)', auth: 'mux', body: 'mux', type: JSON_T, responses: { 200: 'taken', 401: 'bad signature', 404: 'Mux is not configured' } },
  { method: 'get', path: '/api/lti/platforms', tag: 'lti', summary: 'LMS registrations', auth: 'api', scope: 'admin', type: JSON_T, responses: { 200: 'platforms' } },
  { method: 'post', path: '/api/lti/platforms', tag: 'lti', summary: 'Register an LMS', auth: 'api', scope: 'admin', body: 'PlatformRequest', type: JSON_T, responses: { 201: 'registered', 400: 'invalid body', 409: 'already registered' } },
  { method: 'get', path: '/api/lti/platforms/{id}', tag: 'lti', summary: 'One registration', auth: 'api', scope: 'admin', type: JSON_T, responses: { 200: 'the platform', 404: 'no such platform' } },
  { method: 'delete', path: '/api/lti/platforms/{id}', tag: 'lti', summary: 'Remove a registration', auth: 'api', scope: 'admin', type: JSON_T, responses: { 200: 'removed', 404: 'no such platform' } },
  { method: 'get', path: '/api/lti/outbox', tag: 'lti', summary: 'The grade passback outbox', auth: 'api', scope: 'admin', type: JSON_T, responses: { 200: 'items' } },
  { method: 'get', path: '/lti/login', tag: 'lti', summary: 'OIDC third-party login initiation (from the LMS); sets the binding cookie over HTTPS', auth: 'lms', responses: { 302: 'to the LMS\'s authorization endpoint', 400: 'unknown platform', 429: 'too many logins from this address', 503: 'too many logins pending' } },
  { method: 'post', path: '/lti/login', tag: 'lti', summary: 'OIDC third-party login initiation (form post)', auth: 'lms', body: 'form', responses: { 302: 'to the LMS\'s authorization endpoint', 400: 'unknown platform', 429: 'too many logins from this address', 503: 'too many logins pending' } },
  { method: 'get', path: '/lti/continue', tag: 'lti', summary: 'A launch confirmed by the binding the browser read from the platform\'s storage (?ticket=&proof=)', auth: 'lms', type: 'text/html', responses: { 303: 'to the watch page or studio', 400: 'expired ticket', 401: 'not the browser that logged in' } },
  { method: 'get', path: '/lti/launch', tag: 'lti', summary: 'Explains that launches are form posts', auth: 'lms', type: 'text/html', responses: { 400: 'a page saying so' } },
  { method: 'post', path: '/lti/launch', tag: 'lti', summary: 'LTI resource link launch (id_token form post)', auth: 'lms', body: 'form', type: 'text/html', responses: { 200: 'the watch page or studio', 400: 'launch refused' } },
  { method: 'post', path: '/lti/deep-link', tag: 'lti', summary: 'Deep linking: schedule a class from the LMS picker', auth: 'lms', body: 'form', type: 'text/html', responses: { 200: 'the response form back to the LMS', 400: 'refused' } },
  { method: 'get', path: '/lti/jwks', tag: 'lti', summary: 'This tool\'s public keys', auth: 'none', type: JSON_T, responses: { 200: 'JWKS' } },
  { method: 'get', path: '/lti/config.json', tag: 'lti', summary: 'Tool configuration for LMS registration', auth: 'none', type: JSON_T, responses: { 200: 'configuration' } },
  { method: 'get', path: '/', tag: 'pages', summary: 'Home page', auth: 'none', type: 'text/html', responses: { 200: 'the page' } },
  { method: 'get', path: '/favicon.svg', tag: 'pages', summary: 'Icon', auth: 'none', type: 'image/svg+xml', responses: { 200: 'icon' } },
  { method: 'get', path: '/favicon.ico', tag: 'pages', summary: 'Icon', auth: 'none', type: 'image/svg+xml', responses: { 200: 'icon' } },
  { method: 'get', path: '/manifest.webmanifest', tag: 'pages', summary: 'Web app manifest', auth: 'none', type: 'application/manifest+json', responses: { 200: 'manifest' } },
  ...page('/watch/{slug}', 'The watch page (a join token in ?token=, or a name on guest channels)'),
  ...page('/studio/{slug}', 'The instructor\'s studio (an instructor join token)'),
  { method: 'get', path: '/assets/{name}', tag: 'pages', summary: 'Built page scripts and styles', auth: 'none', responses: { 200: 'the asset', 404: 'no such asset' } },
];

const NO_AUTH: Record<string, string[]> = {};
type Requirement = Record<string, string[]>;
const SECURITY: Record<Auth, (op: Op) => Requirement[]> = {
  none: () => [],
  lms: () => [],
  metrics: () => [{ metricsToken: [] }, NO_AUTH],
  api: (op) => [{ apiToken: [op.scope ?? ''] }],
  'api-or-instructor': (op) => [{ apiToken: [op.scope ?? ''] } as Requirement, { joinToken: ['instructor'] }],
  join: () => [{ joinToken: [] }, NO_AUTH],
  instructor: () => [{ joinToken: ['instructor'] }],
  mux: () => [{ muxSignature: [] }],
  publisher: () => [{ streamKey: [] } as Requirement, { joinToken: ['instructor'] }],
};

function operation(op: Op): Record<string, unknown> {
  const params = [...op.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
  for (const q of op.query ?? []) params.push({ name: q.name, in: 'query', required: false, schema: { type: 'string' }, description: q.description } as never);
  const body = op.body === undefined ? undefined
    : op.body === 'form' ? { required: true, content: { 'application/x-www-form-urlencoded': { schema: { type: 'object' } } } }
      : op.body === 'mux' ? { required: true, content: { [JSON_T]: { schema: { type: 'object', required: ['type'], properties: { type: { type: 'string' }, data: { type: 'object' } } } } } }
        : { required: true, content: { [JSON_T]: { schema: { $ref: `#/components/schemas/${op.body}` } } } };
  return {
    tags: [op.tag], summary: op.summary, operationId: `${op.method} ${op.path}`,
    ...(params.length ? { parameters: params } : {}),
    ...(body ? { requestBody: body } : {}),
    security: SECURITY[op.auth](op),
    responses: Object.fromEntries(Object.entries(op.responses).map(([status, description]) => [status, {
      description, ...(op.type && /^2/.test(status) && status !== '204' ? { content: { [op.type]: {} } } : {}),
    }])),
  };
}

export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) (paths[op.path] ??= {})[op.method] = operation(op);
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: { title: 'KMK LiveStream', version: '0.1.0', description: 'Self-hosted live classes: RTMP in, adaptive HLS out, engagement hub. The hub\'s WebSocket protocol is in docs/protocol.md.' },
    paths,
    components: {
      schemas: BODY_SCHEMAS,
      securitySchemes: {
        apiToken: { type: 'http', scheme: 'bearer', description: 'An API token from `kmk-live token create` (its scopes: sessions:read, tokens:join, channels:write, admin).' },
        joinToken: { type: 'http', scheme: 'bearer', description: 'A join token (kmk-live token join, or POST /api/channels/{slug}/join-tokens); pages pass it as ?token=.' },
        metricsToken: { type: 'http', scheme: 'bearer', description: 'metrics.token, when set.' },
        muxSignature: { type: 'apiKey', in: 'header', name: 'Mux-Signature' },
        streamKey: { type: 'http', scheme: 'bearer', description: 'The channel\'s stream key (as OBS\'s WHIP output sends it as its Bearer Token).' },
      },
    },
  };
}
