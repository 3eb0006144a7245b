// A local LTI 1.3 platform (the LMS stand-in: no LMS runs on these machines), written on jose like the tool.
// It does the OIDC dance over real HTTP, signs id_tokens with its own key, serves its JWKS, runs a token endpoint
// that verifies the tool's client assertion against the tool's /lti/jwks, AGS line items and scores, NRPS
// memberships (paged), and a course page that frames the tool with postMessage storage.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { createRemoteJWKSet, exportJWK, generateKeyPair, jwtVerify, SignJWT, type JWTPayload, type CryptoKey } from 'jose';

export const ROLE = {
  instructor: 'http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor',
  learner: 'http://purl.imsglobal.org/vocab/lis/v2/membership#Learner',
  ta: 'http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant',
  mentor: 'http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor',
};

export interface PlatformUser {
  sub: string;
  name: string;
  email?: string;
  roles: string[];
}

export interface LaunchSpec {
  user: PlatformUser;
  messageType?: 'LtiResourceLinkRequest' | 'LtiDeepLinkingRequest';
  resourceLinkId?: string;
  custom?: Record<string, string>;
  lineItem?: string;
  /** Change the claims before signing (negative tests). */
  mutate?(claims: Record<string, unknown>): void;
  /** Sign with a key the JWKS does not publish. */
  rogueKey?: boolean;
  /** Sign with the published key but claim another kid. */
  kid?: string;
  /** Post this state instead of the one the login handed out. */
  state?: string;
}

export interface Score {
  lineItem: string;
  body: Record<string, unknown>;
}

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export class FakePlatform {
  readonly issuer: string;
  readonly clientId = 'kmk-client-1';
  readonly deploymentId = 'dep-1';
  readonly contextId = 'course-42';
  readonly members: PlatformUser[] = [];
  readonly lineItems: { id: string; resourceId: string; label: string; scoreMaximum: number }[] = [];
  readonly scores: Score[] = [];
  readonly tokenRequests: { ok: boolean; scope: string }[] = [];
  jwksFetches = 0;
  /** While true the service endpoints (token, AGS, NRPS) answer 503. */
  down = false;
  /** Users by login_hint, for browser launches through /auth. */
  readonly pending = new Map<string, LaunchSpec>();
  toolBase = '';

  private constructor(private readonly server: Server, readonly base: string, private readonly key: CryptoKey, private readonly rogue: CryptoKey, private readonly jwk: Record<string, unknown>) {
    this.issuer = base;
  }

  static async start(): Promise<FakePlatform> {
    const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
    const rogue = (await generateKeyPair('RS256')).privateKey;
    const jwk = { ...(await exportJWK(publicKey)), kid: 'platform-key-1', alg: 'RS256', use: 'sig' };
    let self!: FakePlatform;
    const server = createServer((req, res) => void self.handle(req, res).catch((err: unknown) => {
      res.writeHead(500).end(String(err));
    }));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    self = new FakePlatform(server, base, privateKey, rogue, jwk);
    return self;
  }

  get urls(): { authUrl: string; tokenUrl: string; jwksUrl: string } {
    return { authUrl: `${this.base}/auth`, tokenUrl: `${this.base}/token`, jwksUrl: `${this.base}/jwks` };
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }

  /** The id_token a platform would send for this launch. */
  async idToken(spec: LaunchSpec, nonce: string): Promise<string> {
    const type = spec.messageType ?? 'LtiResourceLinkRequest';
    const claims: Record<string, unknown> = {
      nonce, sub: spec.user.sub, name: spec.user.name, email: spec.user.email,
      'https://purl.imsglobal.org/spec/lti/claim/message_type': type,
      'https://purl.imsglobal.org/spec/lti/claim/version': '1.3.0',
      'https://purl.imsglobal.org/spec/lti/claim/deployment_id': this.deploymentId,
      'https://purl.imsglobal.org/spec/lti/claim/target_link_uri': `${this.toolBase}/lti/launch`,
      'https://purl.imsglobal.org/spec/lti/claim/roles': spec.user.roles,
      'https://purl.imsglobal.org/spec/lti/claim/context': { id: this.contextId, label: 'BIO-42', title: 'Biology 42' },
      'https://purl.imsglobal.org/spec/lti/claim/custom': spec.custom ?? {},
      'https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice': {
        context_memberships_url: `${this.base}/nrps/${this.contextId}`, service_versions: ['2.0'],
      },
      'https://purl.imsglobal.org/spec/lti-ags/claim/endpoint': {
        scope: ['https://purl.imsglobal.org/spec/lti-ags/scope/lineitem', 'https://purl.imsglobal.org/spec/lti-ags/scope/score'],
        lineitems: `${this.base}/lineitems`, ...(spec.lineItem ? { lineitem: spec.lineItem } : {}),
      },
    };
    if (type === 'LtiResourceLinkRequest') {
      claims['https://purl.imsglobal.org/spec/lti/claim/resource_link'] = { id: spec.resourceLinkId ?? 'link-1', title: 'Live class' };
    } else {
      claims['https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings'] = {
        deep_link_return_url: `${this.base}/deep-link-return`, accept_types: ['ltiResourceLink'], accept_presentation_document_targets: ['iframe', 'window'],
        accept_multiple: false, accept_lineitem: true, data: 'opaque-platform-data',
      };
    }
    spec.mutate?.(claims);
    return new SignJWT(claims as JWTPayload).setProtectedHeader({ alg: 'RS256', kid: spec.kid ?? 'platform-key-1', typ: 'JWT' })
      .setIssuer((claims.iss as string | undefined) ?? this.issuer).setAudience((claims.aud as string | string[] | undefined) ?? this.clientId)
      .setIssuedAt((claims.iat as number | undefined) ?? Math.floor(Date.now() / 1000))
      .setExpirationTime((claims.exp as number | undefined) ?? Math.floor(Date.now() / 1000) + 300)
      .sign(spec.rogueKey ? this.rogue : this.key);
  }

  /** The login request the platform starts a launch with. */
  loginUrl(hint: string, extra: Record<string, string> = {}): string {
    const q = new URLSearchParams({
      iss: this.issuer, login_hint: hint, target_link_uri: `${this.toolBase}/lti/launch`, client_id: this.clientId,
      lti_deployment_id: this.deploymentId, lti_message_hint: `msg-${hint}`, ...extra,
    });
    return `${this.toolBase}/lti/login?${q.toString()}`;
  }

  /** A whole launch over HTTP, as a browser would carry it (redirects not followed): login → auth → launch. */
  async launch(spec: LaunchSpec): Promise<{ login: Response; launch: Response; state: string; nonce: string; idToken: string }> {
    const login = await fetch(this.loginUrl(spec.user.sub), { redirect: 'manual' });
    const location = login.headers.get('location');
    if (login.status !== 302 || !location) throw new Error(`login answered ${login.status}`);
    const auth = new URL(location);
    const state = auth.searchParams.get('state')!;
    const nonce = auth.searchParams.get('nonce')!;
    const idToken = await this.idToken(spec, nonce);
    const launch = await this.post(auth.searchParams.get('redirect_uri')!, { id_token: idToken, state: spec.state ?? state });
    return { login, launch, state, nonce, idToken };
  }

  post(url: string, fields: Record<string, string>): Promise<Response> {
    return fetch(url, { method: 'POST', redirect: 'manual', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields) });
  }

  private async bearerOk(req: IncomingMessage): Promise<boolean> {
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    return Boolean(m && this.issued.has(m[1]!));
  }

  private readonly issued = new Set<string>();

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.base);
    const send = (status: number, type: string, text: string, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { 'Content-Type': type, ...headers }).end(text);
    };
    if (url.pathname === '/jwks') {
      this.jwksFetches += 1;
      return send(200, 'application/json', JSON.stringify({ keys: [this.jwk] }));
    }
    if (url.pathname === '/auth') {
      // The OIDC authentication request from the tool; answer by form-posting the id_token back.
      const q = url.searchParams;
      const checks = q.get('scope') === 'openid' && q.get('response_type') === 'id_token' && q.get('response_mode') === 'form_post'
        && q.get('prompt') === 'none' && q.get('client_id') === this.clientId && q.get('redirect_uri') === `${this.toolBase}/lti/launch`;
      const spec = this.pending.get(q.get('login_hint') ?? '');
      if (!checks || !spec || !q.get('nonce') || !q.get('state')) return send(400, 'text/plain', 'bad authentication request');
      const token = await this.idToken(spec, q.get('nonce')!);
      return send(200, 'text/html', `<!doctype html><form method="post" action="${q.get('redirect_uri')}">
<input type="hidden" name="id_token" value="${token}"><input type="hidden" name="state" value="${q.get('state')}"></form>
<script>document.forms[0].submit()</script>`);
    }
    if (url.pathname === '/course') {
      // The LMS course page: the tool in an iframe, and the postMessage storage the tool may use.
      const hint = url.searchParams.get('hint') ?? '';
      const src = this.loginUrl(hint, { lti_storage_target: '_parent' });
      return send(200, 'text/html', `<!doctype html><title>Biology 42</title><h1>Biology 42</h1>
<iframe id="tool" src="${src.replace(/&/g, '&amp;')}" style="width:100%;height:760px;border:0" allow="autoplay; fullscreen"></iframe>
<script>
const store = {}; window.ltiStorage = store; window.ltiMessages = [];
window.addEventListener('message', (e) => {
  const m = e.data || {};
  window.ltiMessages.push(m.subject);
  if (m.subject === 'lti.put_data') { store[m.key] = m.value; e.source.postMessage({ subject: 'lti.put_data.response', message_id: m.message_id, key: m.key, value: m.value }, e.origin); }
  if (m.subject === 'lti.get_data') { e.source.postMessage({ subject: 'lti.get_data.response', message_id: m.message_id, key: m.key, value: store[m.key] }, e.origin); }
});
</script>`);
    }
    if (url.pathname === '/deep-link-return' && req.method === 'POST') {
      const f = new URLSearchParams(await body(req));
      this.deepLinkResponses.push(f.get('JWT') ?? '');
      return send(200, 'text/html', '<!doctype html><p id="done">Added to the course.</p>');
    }
    if (this.down) return send(503, 'text/plain', 'maintenance');
    if (url.pathname === '/token' && req.method === 'POST') {
      const f = new URLSearchParams(await body(req));
      let ok = false;
      try {
        const tool = createRemoteJWKSet(new URL(`${this.toolBase}/lti/jwks`));
        const { payload } = await jwtVerify(f.get('client_assertion') ?? '', tool, { issuer: this.clientId, subject: this.clientId, audience: `${this.base}/token` });
        ok = f.get('grant_type') === 'client_credentials' && f.get('client_assertion_type') === 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' && Boolean(payload.jti);
      } catch {
        ok = false;
      }
      this.tokenRequests.push({ ok, scope: f.get('scope') ?? '' });
      if (!ok) return send(401, 'application/json', JSON.stringify({ error: 'invalid_client' }));
      const token = randomUUID();
      this.issued.add(token);
      return send(200, 'application/json', JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: 3600, scope: f.get('scope') }));
    }
    if (!(await this.bearerOk(req))) return send(401, 'text/plain', 'no access token');
    if (url.pathname.startsWith('/nrps/')) {
      const page = Number(url.searchParams.get('page') ?? '0');
      const per = 2;
      const slice = this.members.slice(page * per, page * per + per);
      const next = (page + 1) * per < this.members.length ? { Link: `<${this.base}/nrps/${this.contextId}?page=${page + 1}>; rel="next"` } : {};
      return send(200, 'application/vnd.ims.lti-nrps.v2.membershipcontainer+json', JSON.stringify({
        id: url.toString(), context: { id: this.contextId },
        members: slice.map((m) => ({ user_id: m.sub, name: m.name, email: m.email, roles: m.roles, status: 'Active' })),
      }), next);
    }
    if (url.pathname === '/lineitems' && req.method === 'GET') {
      const rid = url.searchParams.get('resource_id');
      return send(200, 'application/vnd.ims.lis.v2.lineitemcontainer+json', JSON.stringify(this.lineItems.filter((l) => !rid || l.resourceId === rid)));
    }
    if (url.pathname === '/lineitems' && req.method === 'POST') {
      const j = JSON.parse(await body(req)) as { resourceId: string; label: string; scoreMaximum: number };
      const item = { id: `${this.base}/lineitems/${this.lineItems.length + 1}`, resourceId: j.resourceId, label: j.label, scoreMaximum: j.scoreMaximum };
      this.lineItems.push(item);
      return send(201, 'application/vnd.ims.lis.v2.lineitem+json', JSON.stringify(item));
    }
    const m = /^\/lineitems\/(\d+)\/scores$/.exec(url.pathname);
    if (m && req.method === 'POST') {
      if (req.headers['content-type'] !== 'application/vnd.ims.lis.v1.score+json') return send(415, 'text/plain', 'wrong content type');
      this.scores.push({ lineItem: `${this.base}/lineitems/${m[1]}`, body: JSON.parse(await body(req)) as Record<string, unknown> });
      return send(204, 'text/plain', '');
    }
    return send(404, 'text/plain', 'not found');
  }

  readonly deepLinkResponses: string[] = [];
}
