// The LTI 1.3 tool: login → launch → where the user goes (studio for instructors, watch page for everyone
// else, on the course's channel and class), and deep linking (an instructor picks or creates a class; we answer a
// signed LtiDeepLinkingResponse). Owns no HTTP: the routes hand it fields and render what it returns.

import { randomBytes, timingSafeEqual } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import type { Course, ScheduledClass } from '../domain/records.js';
import type { ClassRepository, LtiRepository } from '../store/ports.js';
import type { Platform } from '../domain/records.js';
import type { Logger } from '../log.js';
import { launchTarget } from '../classes/resolve.js';
import { AGS_SCOPES, CLAIM, hubUserId, type KmkRole, type Launch } from './claims.js';
import type { ToolKeys } from './keys.js';
import { planLogin, type LoginParams } from './login.js';
import { serviceUrlRefusal } from './platforms.js';
import type { LaunchVerifier, Verdict } from './verify.js';

export interface ToolDeps {
  repo: Pick<LtiRepository, 'platformsByIssuer' | 'saveLogin' | 'saveLink' | 'findPlatform'>;
  classes: Pick<ClassRepository, 'list' | 'setLineItem' | 'confirm' | 'upsertLtiCourse' | 'setCourseChannel' | 'findCourse' | 'find'>;
  keys: ToolKeys;
  verifier: LaunchVerifier;
  /** Base URL of this tool as the LMS and browsers see it (no trailing slash). */
  toolBase: string;
  /** Signs the deep-linking picker's context (HS256). */
  secret: Buffer;
  /** A channel for a course that has none yet. */
  createCourseChannel(title: string): Promise<{ id: number; slug: string }>;
  channelSlug(id: number): Promise<string | undefined>;
  /** The session live on a channel now, if any. */
  liveSession(slug: string): string | null;
  mintJoin(channel: string, user: string, name: string, role: KmkRole): string;
  log: Logger;
  /** Pending logins kept at most (default MAX_PENDING_LOGINS). */
  maxPendingLogins?: number;
  /** Whether a past session has a replay to offer (it was recorded): the waiting page asks for it only then. */
  replayable?(sessionId: string): Promise<boolean>;
  /** lti.requireBrowserBinding: over HTTPS refuse launches neither a cookie nor the platform's storage binds. */
  requireBinding?: boolean;
}

/** The cookie that binds a login to its browser (HTTPS only: Secure, SameSite=None, Partitioned for LMS frames). */
export interface BindingCookie {
  name: string;
  value: string;
}

export type LoginResult =
  | { kind: 'redirect'; url: string; cookie?: BindingCookie }
  | { kind: 'storage'; url: string; state: string; target: string; origin: string; binding: string; cookie?: BindingCookie }
  | { kind: 'error'; status: number; check: string; message: string };

export type LaunchResult =
  | { kind: 'go'; url: string }
  /** The browser must show the login's binding from the platform's storage first (GET /lti/continue). */
  | { kind: 'confirm'; ticket: string; storage: { target: string; origin: string; state: string } }
  | { kind: 'pick'; ctx: string; course: Course; classes: ScheduledClass[]; title: string | null }
  | { kind: 'error'; status: number; check: string; message: string };

export type DeepLinkResult =
  | { kind: 'return'; returnUrl: string; jwt: string; title: string }
  | { kind: 'error'; status: number; check: string; message: string };

const LOGIN_TTL_MS = 10 * 60 * 1000;
/** A verified launch waits this long for its browser to confirm the binding from the platform's storage. */
const CONFIRM_TTL_MS = 2 * 60 * 1000;
const MAX_CONFIRMS = 5000;

/** The binding cookie's name for a login (one per login, so launches in several tabs do not clash). */
export const bindingCookieName = (state: string): string => `kmk_lti_${state.slice(0, 16)}`;

/** `Cookie:` header → name → value (the first of each name). Pure. */
export function parseCookies(header: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of header.split(';').slice(0, 50)) {
    const eq = part.indexOf('=');
    if (eq < 1) continue;
    const k = part.slice(0, eq).trim();
    if (!out.has(k)) out.set(k, part.slice(eq + 1).trim());
  }
  return out;
}

const sameText = (a: string, b: string): boolean => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};
/** Logins started and not yet launched that the database holds at most: an unauthenticated flood cannot grow it. */
export const MAX_PENDING_LOGINS = 20000;
const NOT_THIS_BROWSER = 'This launch did not start in this browser window. Open the class again from the course page.';
const secretKey = (s: Buffer): Uint8Array => new Uint8Array(s);

export class LtiTool {
  constructor(private readonly d: ToolDeps) {}

  async login(params: LoginParams, now = Date.now()): Promise<LoginResult> {
    const state = randomBytes(24).toString('base64url');
    const nonce = randomBytes(24).toString('base64url');
    const plan = planLogin(params, await this.d.repo.platformsByIssuer(params.iss ?? ''), this.d.toolBase, state, nonce);
    if (!plan.ok) {
      this.d.log.warn('lti login refused', { check: plan.check, iss: params.iss?.slice(0, 200) });
      return { kind: 'error', status: plan.status, check: plan.check, message: plan.message };
    }
    const binding = randomBytes(24).toString('base64url');
    if (!(await this.d.repo.saveLogin({ state, nonce, platformId: plan.platform.id, storageTarget: plan.storageTarget, expiresAt: now + LOGIN_TTL_MS, binding }, now, this.d.maxPendingLogins ?? MAX_PENDING_LOGINS))) {
      this.d.log.warn('lti login refused: too many logins in progress', { max: this.d.maxPendingLogins ?? MAX_PENDING_LOGINS });
      return { kind: 'error', status: 503, check: 'busy', message: 'Too many sign-ins are in progress right now. Open the class again in a minute.' };
    }
    // Over HTTPS the browser keeps the binding in a cookie; in an LMS frame the platform's storage may keep it too.
    const cookie = this.https ? { name: bindingCookieName(state), value: binding } : undefined;
    if (plan.storageTarget) return { kind: 'storage', url: plan.redirect, state, target: plan.storageTarget, origin: new URL(plan.platform.authUrl).origin, binding, cookie };
    return { kind: 'redirect', url: plan.redirect, cookie };
  }

  private get https(): boolean {
    return this.d.toolBase.startsWith('https://');
  }

  /** Verified launches waiting for their browser to show the binding from the platform's storage, by ticket. */
  private readonly confirms = new Map<string, { v: Extract<Verdict, { ok: true }>; until: number }>();

  /**
   * Is this launch's browser the one that started the login (login CSRF)? Its binding cookie says so; without the
   * cookie the platform's storage must, when the login offered it; over HTTPS one of the two is required (unless
   * lti.requireBrowserBinding is off); over plain HTTP without platform storage nothing can tell.
   */
  private bind(v: Extract<Verdict, { ok: true }>, cookies: Map<string, string>, now: number): LaunchResult | 'bound' {
    const cookie = cookies.get(bindingCookieName(v.state));
    if (cookie !== undefined) {
      if (v.binding && sameText(cookie, v.binding)) return 'bound';
      this.d.log.warn('lti launch refused: its binding cookie belongs to another login', { platform: v.platform.id });
      return { kind: 'error', status: 401, check: 'binding', message: NOT_THIS_BROWSER };
    }
    if (v.storageTarget && v.binding) {
      for (const [k, c] of this.confirms) if (c.until <= now || this.confirms.size >= MAX_CONFIRMS) this.confirms.delete(k);
      const ticket = randomBytes(24).toString('base64url');
      this.confirms.set(ticket, { v, until: now + CONFIRM_TTL_MS });
      return { kind: 'confirm', ticket, storage: { target: v.storageTarget, origin: new URL(v.platform.authUrl).origin, state: v.state } };
    }
    if (this.https && (this.d.requireBinding ?? true)) {
      this.d.log.warn('lti launch refused: not bound to the browser', { platform: v.platform.id });
      return { kind: 'error', status: 401, check: 'binding', message: 'Your browser did not keep the sign-in cookie this tool needs (it blocks cookies in the course page\'s frame). Open the class again from the course page; if this keeps happening, ask the LMS administrator to open the tool in a new window.' };
    }
    this.d.log.debug('lti launch not bound to the browser (no cookie, no platform storage)', { platform: v.platform.id, https: this.https });
    return 'bound';
  }

  /** GET /lti/continue: the binding the browser read from the platform's storage, for a launch held by `bind`. */
  async confirm(ticket: string, proof: string, now = Date.now()): Promise<LaunchResult> {
    const c = this.confirms.get(ticket);
    this.confirms.delete(ticket);
    if (!c || c.until <= now) return { kind: 'error', status: 400, check: 'state', message: 'This launch has expired. Open the class again from the course page.' };
    if (!sameText(proof, c.v.binding)) {
      this.d.log.warn('lti launch refused: the platform storage did not hold its binding', { platform: c.v.platform.id });
      return { kind: 'error', status: 401, check: 'binding', message: NOT_THIS_BROWSER };
    }
    return this.complete(c.v, now);
  }

  async launch(fields: Record<string, string>, cookies: Map<string, string> = new Map(), now = Date.now()): Promise<LaunchResult> {
    const v = await this.d.verifier.verify(fields.id_token, fields.state);
    if (!v.ok) {
      this.d.log.warn('lti launch refused', { check: v.check, reason: v.message });
      return { kind: 'error', status: v.status, check: v.check, message: v.message };
    }
    // Nothing is created or minted for a launch until its browser is known to be the one that logged in.
    const bound = this.bind(v, cookies, now);
    return bound === 'bound' ? this.complete(v, now) : bound;
  }

  /** The launch with every service URL the tool may not call dropped (and said in the log): see serviceUrlRefusal. */
  private withSafeServices(v: Extract<Verdict, { ok: true }>): Launch {
    const { launch, platform } = v;
    const keep = (what: string, u: string | null): string | null => {
      if (u === null) return null;
      const why = serviceUrlRefusal(platform, u);
      if (!why) return u;
      this.d.log.warn('lti launch names a service URL the tool will not call; roster or gradebook is off for it', { platform: platform.id, what, url: u.slice(0, 200), why });
      return null;
    };
    return {
      ...launch,
      nrpsUrl: keep('NRPS memberships', launch.nrpsUrl),
      ags: launch.ags ? { ...launch.ags, lineItems: keep('AGS line items', launch.ags.lineItems), lineItem: keep('AGS line item', launch.ags.lineItem) } : null,
    };
  }

  private async complete(v: Extract<Verdict, { ok: true }>, now: number): Promise<LaunchResult> {
    const { platform } = v;
    const launch = this.withSafeServices(v);
    const course = await this.courseFor(platform, launch);
    if (launch.kind === 'deep-linking') {
      if (launch.role !== 'instructor') return { kind: 'error', status: 403, check: 'roles', message: 'Only instructors can add a live class to the course.' };
      const ctx = await new SignJWT({
        p: platform.id, dep: launch.deploymentId, ret: launch.deepLinking!.returnUrl, data: launch.deepLinking!.data,
        c: course.id, li: launch.deepLinking!.acceptLineItem && Boolean(course.agsLineItems),
      }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime('1h').setAudience('kmk-deep-link').sign(secretKey(this.d.secret));
      return { kind: 'pick', ctx, course, classes: await this.d.classes.list({ courseId: course.id }), title: launch.deepLinking!.title };
    }
    const slug = (await this.d.channelSlug(course.channelId!))!;
    const classes = await this.d.classes.list({ courseId: course.id });
    const pinned = Number(launch.custom.kmk_class);
    const pinnedClass = Number.isInteger(pinned) ? classes.find((k) => k.id === pinned) : undefined;
    await this.d.repo.saveLink(platform.id, launch.resourceLinkId!, course.id, launch.ags?.lineItem ?? null, pinnedClass?.id ?? null);
    if (pinnedClass && launch.ags?.lineItem && !pinnedClass.lineItemUrl) await this.d.classes.setLineItem(pinnedClass.id, launch.ags.lineItem);
    if (pinnedClass && !pinnedClass.confirmed) await this.d.classes.confirm(pinnedClass.id);
    // A deep-linked class nobody launched yet may be one the LMS never kept: other links do not lead to it.
    const target = launchTarget(pinnedClass ? [pinnedClass] : classes.filter((k) => k.confirmed), now, this.d.liveSession(slug));
    const user = hubUserId(platform.id, launch.sub);
    const token = this.d.mintJoin(slug, user, launch.name, launch.role);
    const q = new URLSearchParams({ token });
    if (target.kind !== 'none') q.set('class', String(target.cls.id));
    if (target.kind === 'last' && target.cls.sessionId && launch.role !== 'instructor' && (await this.d.replayable?.(target.cls.sessionId) ?? true)) q.set('replay', target.cls.sessionId);
    const page = launch.role === 'instructor' ? 'studio' : 'watch';
    this.d.log.info('lti launch', { platform: platform.id, course: course.id, role: launch.role, channel: slug, target: target.kind });
    return { kind: 'go', url: `/${page}/${slug}?${q.toString()}` };
  }

  private async courseFor(platform: Platform, launch: Launch): Promise<Course> {
    const scopes = launch.ags?.scopes ?? [];
    const course = await this.d.classes.upsertLtiCourse({
      platformId: platform.id, deploymentId: launch.deploymentId, contextId: launch.context!.id, title: launch.context!.title.slice(0, 200),
      nrpsUrl: launch.nrpsUrl, agsLineItems: launch.ags?.lineItems ?? null, agsScopes: scopes,
    });
    if (course.channelId !== null && (await this.d.channelSlug(course.channelId))) return course;
    const ch = await this.d.createCourseChannel(course.title);
    await this.d.classes.setCourseChannel(course.id, ch.id);
    return { ...course, channelId: ch.id };
  }

  /** The picker's answer: an existing class, or a new one from its fields → a signed LtiDeepLinkingResponse. */
  async deepLink(fields: Record<string, string>, schedule: (courseId: number, channelId: number, f: Record<string, string>) => Promise<ScheduledClass | string>): Promise<DeepLinkResult> {
    let ctx: { p: number; dep: string; ret: string; data: string | null; c: number; li: boolean };
    try {
      const { payload } = await jwtVerify(fields.ctx ?? '', secretKey(this.d.secret), { audience: 'kmk-deep-link', algorithms: ['HS256'] });
      ctx = payload as unknown as typeof ctx;
    } catch {
      return { kind: 'error', status: 400, check: 'ctx', message: 'This form has expired. Open "Add a live class" again from the course.' };
    }
    const platform = await this.d.repo.findPlatform(ctx.p);
    const course = await this.d.classes.findCourse(ctx.c);
    if (!platform || !course || course.channelId === null) return { kind: 'error', status: 404, check: 'course', message: 'The course or its LMS is no longer registered.' };
    let cls: ScheduledClass | undefined;
    if (fields.class && fields.class !== 'new') {
      cls = await this.d.classes.find(Number(fields.class));
      if (!cls || cls.courseId !== course.id) return { kind: 'error', status: 400, check: 'class', message: 'Pick one of this course\'s classes.' };
    } else {
      const made = await schedule(course.id, course.channelId, fields);
      if (typeof made === 'string') return { kind: 'error', status: 400, check: 'class', message: made };
      cls = made;
    }
    const item: Record<string, unknown> = {
      type: 'ltiResourceLink', title: cls.title, url: `${this.d.toolBase}/lti/launch`,
      text: `Live class, ${new Date(cls.startsAt).toUTCString()} (${cls.minutes} min)`, custom: { kmk_class: String(cls.id) },
    };
    if (ctx.li && course.agsScopes.includes(AGS_SCOPES.lineItem)) {
      item.lineItem = { scoreMaximum: 100, label: `Attendance: ${cls.title}`, resourceId: `kmk-class-${cls.id}`, tag: 'attendance' };
    }
    const jwt = await this.d.keys.sign({
      iss: platform.clientId, aud: platform.issuer, nonce: randomBytes(16).toString('base64url'),
      [CLAIM.messageType]: 'LtiDeepLinkingResponse', [CLAIM.version]: '1.3.0', [CLAIM.deploymentId]: ctx.dep,
      ...(ctx.data ? { [CLAIM.deepLinkingData]: ctx.data } : {}),
      [CLAIM.contentItems]: [item],
    }, 300);
    this.d.log.info('lti deep link', { platform: platform.id, course: course.id, class: cls.id });
    return { kind: 'return', returnUrl: ctx.ret, jwt, title: cls.title };
  }
}
