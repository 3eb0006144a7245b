// /api/openapi.json against the running server's route table, both ways: every route documented, every documented
// operation answered by its own route (never the "no such path" fallback); request bodies validated from the
// document's own schemas.

import t from 'tap';
import { startTestServer } from './helpers/server.js';
import { BODY_SCHEMAS } from '../src/http/api-schemas.js';
import { checkBody } from '../src/http/validate.js';
import { testdir } from './helpers/testdir.js';

const toOpenApi = (method: string, pattern: string): string =>
  `${method === 'del' ? 'delete' : method} ${pattern.replace(/:(\w+)/g, '{$1}').replace(/\/\*$/, '/{path}')}`;

t.test('the OpenAPI document matches the routes that exist', async (t) => {
  const ts = await startTestServer(testdir(t));
  t.teardown(() => ts.server.stop());
  const res = await ts.get('/api/openapi.json');
  t.equal(res.status, 200);
  const doc = await res.json() as { openapi: string; paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { $ref?: string } }> } }>>; components: { schemas: Record<string, unknown> } };
  t.equal(doc.openapi, '3.1.0');
  const documented = new Set(Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`)));
  const routes = new Set(ts.server.routeTable.map((r) => toOpenApi(r.method, r.pattern)));
  for (const r of routes) t.ok(documented.has(r), `route ${r} is documented`);
  for (const d of documented) t.ok(routes.has(d), `documented ${d} is a route`);

  // Every documented operation reaches its route: whatever it answers, not the fallback for unknown paths.
  for (const d of documented) {
    const [method, path] = d.split(' ') as [string, string];
    const url = path.replace('{path}', 'x/master.m3u8').replace(/\{\w+\}/g, 'nope');
    const r = await fetch(`${ts.base}${url}`, { method: method.toUpperCase(), redirect: 'manual', ...(method === 'post' ? { body: '{}' } : {}) });
    const text = method === 'head' ? '' : await r.text();
    t.notOk(r.status === 404 && text.includes('no such path'), `${d} answers from its route (${r.status})`);
  }

  // Request bodies: the document's schemas are the ones the handlers check.
  t.same(doc.components.schemas, JSON.parse(JSON.stringify(BODY_SCHEMAS)), 'the published schemas are the validator\'s');
  const refs = Object.values(doc.paths).flatMap((ops) => Object.values(ops)).flatMap((op) => Object.values(op.requestBody?.content ?? {}).map((c) => c.schema.$ref).filter(Boolean));
  t.same(new Set(refs), new Set(Object.keys(BODY_SCHEMAS).map((k) => `#/components/schemas/${k}`)), 'every body schema is used by an operation');
});

t.test('bodies are refused by the schema with a message naming the field', async (t) => {
  t.equal(checkBody('ClassRequest', { title: 'Fractions', startsAt: '2026-12-01T09:00:00Z', minutes: 45 }), null);
  t.equal(checkBody('ClassRequest', { title: 'Fractions', startsAt: '2026-12-01T09:00:00Z' }), 'minutes: required');
  t.equal(checkBody('ClassRequest', { title: 'x', startsAt: '2026-12-01T09:00:00Z', minutes: [45] }), 'minutes: must be integer or string');
  t.equal(checkBody('JoinTokenRequest', { user: 'u', name: 'N', role: 'king' }), 'role: one of learner, instructor, moderator, viewer, captioner');
  t.equal(checkBody('PlatformRequest', { issuer: 1, clientId: 'c', authUrl: 'https://a', tokenUrl: 'https://t', jwksUrl: 'https://j' }), 'issuer: must be string');
  t.equal(checkBody('PlatformRequest', { issuer: 'https://lms' }), 'clientId: required');
  t.equal(checkBody('Beacon', { channel: 'Not A Slug', token: 'a.b.c' }), 'channel: must match pattern "^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"');

  const ts = await startTestServer(testdir(t));
  t.teardown(() => ts.server.stop());
  ts.createChannel('algebra');
  const { cliJson } = await import('./helpers/cli.js');
  const tok = cliJson<{ token: string }>(ts.dir, ['token', 'create', 'lms', '--scopes', 'tokens:join,channels:write'], { KMK_HTTP_PORT: '1' });
  const post = (path: string, body: string) => fetch(`${ts.base}${path}`, { method: 'POST', body, headers: { Authorization: `Bearer ${tok.token}` } });
  let r = await post('/api/channels/algebra/join-tokens', JSON.stringify({ user: 'u1', name: 'Ada' }));
  t.equal(r.status, 400);
  t.match((await r.json() as { message: string }).message, /^role: required/);
  r = await post('/api/channels/algebra/classes', JSON.stringify({ title: 'Fractions', startsAt: '2026-12-01T09:00:00Z', minutes: true }));
  t.equal(r.status, 400);
  t.equal((await r.json() as { message: string }).message, 'minutes: must be integer or string');
  r = await post('/api/channels/algebra/join-tokens', JSON.stringify({ user: 'u1', name: 'Ada', role: 'learner' }));
  t.equal(r.status, 201, 'a valid body still passes');
});
