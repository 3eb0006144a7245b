import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULTS_FILE, flatten, loadConfig, redacted } from '../src/config/load.js';
import { SCHEMA, envName } from '../src/config/schema.js';
import { ConfigError } from '../src/domain/errors.js';
import { ROOT } from './helpers/cli.js';
import { testdir } from './helpers/testdir.js';

const load = (dir: string, file: object | undefined, env: Record<string, string> = {}) => {
  let path: string | undefined;
  if (file) {
    path = join(dir, 'override.json');
    writeFileSync(path, JSON.stringify(file));
  }
  return loadConfig({ file: path, env, cwd: dir });
};

const configError = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('expected a ConfigError');
};

t.test('the defaults file holds exactly the keys of the schema, each valid', async (t) => {
  const keys = [...flatten(JSON.parse(readFileSync(DEFAULTS_FILE, 'utf8'))).keys()].sort();
  t.same(keys, Object.keys(SCHEMA).sort());
  const dir = testdir(t);
  const c = loadConfig({ env: {}, cwd: dir });
  t.equal(c['http.port'], 8080);
  t.equal(c['rtmp.port'], 1935);
  t.equal(c['paths.data'], join(dir, 'data'), 'relative paths resolve against the working directory');
  t.equal(c['paths.media'], join(dir, 'media'));
  t.equal(c['paths.db'], join(dir, 'data', 'kmk.db'));
  t.ok(Object.isFrozen(c));
});

t.test('every key is described in docs/configuration.md with its environment variable', async (t) => {
  const doc = readFileSync(join(ROOT, 'docs', 'configuration.md'), 'utf8');
  for (const key of Object.keys(SCHEMA)) {
    t.match(doc, `\`${key}\``, `${key} documented`);
    t.match(doc, envName(key), `${envName(key)} documented`);
  }
});

t.test('environment variable names follow the rule in DESIGN.md', async (t) => {
  t.equal(envName('http.port'), 'KMK_HTTP_PORT');
  t.equal(envName('paths.data'), 'KMK_PATHS_DATA');
  t.equal(envName('mux.tokenId'), 'KMK_MUX_TOKEN_ID');
  t.equal(envName('publicHost'), 'KMK_PUBLIC_HOST');
});

t.test('the file beats the defaults and the environment beats the file', async (t) => {
  const dir = testdir(t);
  const fromFile = load(dir, { http: { port: 9000 }, publicHost: 'live.school.example' });
  t.equal(fromFile['http.port'], 9000);
  t.equal(fromFile.publicHost, 'live.school.example');
  t.equal(fromFile['rtmp.port'], 1935, 'keys the file does not name keep their defaults');
  const both = load(dir, { http: { port: 9000 } }, { KMK_HTTP_PORT: '9090', KMK_PATHS_DATA: '/srv/kmk' });
  t.equal(both['http.port'], 9090);
  t.equal(both['paths.data'], '/srv/kmk');
  t.equal(both['paths.db'], '/srv/kmk/kmk.db');
});

t.test('KMK_CONFIG names the override file when --config is absent', async (t) => {
  const dir = testdir(t, { 'site.json': JSON.stringify({ rtmp: { port: 2935 } }) });
  const c = loadConfig({ env: { KMK_CONFIG: 'site.json' }, cwd: dir });
  t.equal(c['rtmp.port'], 2935);
});

t.test('an unknown key in the file is named', async (t) => {
  const msg = configError(() => load(testdir(t), { http: { prot: 80 } }));
  t.match(msg, 'unknown key "http.prot"');
  t.match(msg, 'override.json');
});

t.test('an unknown KMK_ variable is named', async (t) => {
  const msg = configError(() => load(testdir(t), undefined, { KMK_HTTP_PROT: '80' }));
  t.match(msg, 'unknown environment variable KMK_HTTP_PROT');
});

t.test('a wrong type names the key, the value and what was expected', async (t) => {
  const msg = configError(() => load(testdir(t), { http: { port: '8080' } }));
  t.match(msg, 'http.port = "8080"');
  t.match(msg, 'expected an integer from 1 to 65535');
  const envMsg = configError(() => load(testdir(t), undefined, { KMK_HTTP_PORT: 'eighty' }));
  t.match(envMsg, 'http.port = "eighty" (from environment KMK_HTTP_PORT)');
});

t.test('an out-of-range value names the key, the value and the range', async (t) => {
  const msg = configError(() => load(testdir(t), undefined, { KMK_RTMP_PORT: '70000' }));
  t.match(msg, 'rtmp.port = 70000');
  t.match(msg, 'from 1 to 65535');
  t.match(configError(() => load(testdir(t), { http: { port: 80.5 } })), 'http.port = 80.5');
});

t.test('an enum value outside its set lists the allowed values', async (t) => {
  const msg = configError(() => load(testdir(t), { log: { level: 'loud' } }));
  t.match(msg, 'log.level = "loud"');
  t.match(msg, 'one of debug, info, warn, error');
});

t.test('a malformed ladder profile or host is refused', async (t) => {
  t.match(configError(() => load(testdir(t), { channels: { defaultLadder: '4k' } })), 'channels.defaultLadder = "4k"');
  t.match(configError(() => load(testdir(t), { publicHost: 'bad host/x' })), 'publicHost = "bad host/x"');
  t.match(configError(() => load(testdir(t), { publicHost: '' })), 'expected a non-empty string');
});

t.test('every problem is reported, not only the first', async (t) => {
  const msg = configError(() => load(testdir(t), { http: { port: 0 } }, { KMK_RTMP_PORT: 'x' }));
  t.match(msg, 'http.port');
  t.match(msg, 'rtmp.port');
});

t.test('a missing or malformed config file is a clear error', async (t) => {
  const dir = testdir(t, { 'bad.json': '{ "http": ', 'list.json': '[1,2]' });
  t.match(configError(() => loadConfig({ file: join(dir, 'nope.json'), env: {}, cwd: dir })), 'no such file');
  t.match(configError(() => loadConfig({ file: join(dir, 'bad.json'), env: {}, cwd: dir })), 'not valid JSON');
  t.match(configError(() => loadConfig({ file: join(dir, 'list.json'), env: {}, cwd: dir })), 'must hold a JSON object');
});

t.test("Mux's own variables are accepted and secrets are redacted", async (t) => {
  const c = load(testdir(t), undefined, { MUX_TOKEN_ID: 'id123', MUX_TOKEN_SECRET: 'shh-very-secret' });
  t.equal(c['mux.tokenId'], 'id123');
  t.equal(c['mux.tokenSecret'], 'shh-very-secret');
  const view = JSON.stringify(redacted(c));
  t.notMatch(view, 'shh-very-secret');
  t.match(view, '<redacted>');
  t.match(view, 'id123', 'the token id is not a secret');
  const msg = configError(() => load(testdir(t), { mux: { tokenSecret: 42 } }));
  t.notMatch(msg, '42', 'a bad secret value is not echoed');
});

t.test('signed Mux playback needs a URL signing key; MUX_SIGNING_KEY / MUX_PRIVATE_KEY are accepted and the key redacted', async (t) => {
  const creds = { MUX_TOKEN_ID: 'id123', MUX_TOKEN_SECRET: 'shh-very-secret', KMK_MUX_PLAYBACK_POLICY: 'signed' };
  t.match(configError(() => load(testdir(t), undefined, creds)), 'mux.playbackPolicy = "signed" needs mux.signingKeyId and mux.signingKeyPrivate');
  t.match(configError(() => load(testdir(t), undefined, { ...creds, MUX_SIGNING_KEY: 'key-1' })), 'needs mux.signingKeyId and mux.signingKeyPrivate', 'both halves');
  const c = load(testdir(t), undefined, { ...creds, MUX_SIGNING_KEY: 'key-1', MUX_PRIVATE_KEY: 'LS0tLS1CRUdJTi1wcml2YXRl' });
  t.equal(c['mux.signingKeyId'], 'key-1');
  t.equal(c['mux.signingKeyPrivate'], 'LS0tLS1CRUdJTi1wcml2YXRl');
  t.notMatch(JSON.stringify(redacted(c)), 'LS0tLS1CRUdJTi1wcml2YXRl', 'the private key is redacted');
  t.equal(load(testdir(t), undefined, { KMK_MUX_PLAYBACK_POLICY: 'signed' })['mux.playbackPolicy'], 'signed', 'without Mux credentials the policy is inert, not an error');
});
