// The LTI 1.3 id_token, read once into a typed launch after its signature has been verified: claim names, the
// required claims per message type, and the LTI role → KMK role mapping. Pure; never verifies signatures.

import { createHash } from 'node:crypto';

const LTI = 'https://purl.imsglobal.org/spec/lti/claim/';
export const CLAIM = {
  messageType: `${LTI}message_type`,
  version: `${LTI}version`,
  deploymentId: `${LTI}deployment_id`,
  targetLinkUri: `${LTI}target_link_uri`,
  resourceLink: `${LTI}resource_link`,
  roles: `${LTI}roles`,
  context: `${LTI}context`,
  custom: `${LTI}custom`,
  launchPresentation: `${LTI}launch_presentation`,
  deepLinkingSettings: 'https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings',
  deepLinkingData: 'https://purl.imsglobal.org/spec/lti-dl/claim/data',
  contentItems: 'https://purl.imsglobal.org/spec/lti-dl/claim/content_items',
  nrps: 'https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice',
  ags: 'https://purl.imsglobal.org/spec/lti-ags/claim/endpoint',
} as const;

export const AGS_SCOPES = {
  lineItem: 'https://purl.imsglobal.org/spec/lti-ags/scope/lineitem',
  score: 'https://purl.imsglobal.org/spec/lti-ags/scope/score',
} as const;
export const NRPS_SCOPE = 'https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly';

export type KmkRole = 'instructor' | 'learner' | 'viewer';

/**
 * LTI roles → KMK: Instructor, TeachingAssistant, ContentDeveloper, Administrator → instructor; Learner → learner;
 * anything else (Mentor, …) → viewer. Context (membership) roles decide when present; institution and system
 * roles only when the launch carries no context role. Short role names (deprecated but still sent) count too.
 */
export function mapRoles(roles: readonly string[]): KmkRole {
  const parse = (r: string): { scope: 'context' | 'other'; name: string; sub: string | null } => {
    const m = /^http:\/\/purl\.imsglobal\.org\/vocab\/lis\/v2\/(membership|institution\/person|system\/person)(?:\/([A-Za-z]+))?#([A-Za-z]+)$/.exec(r);
    if (m) {
      // membership/Instructor#TeachingAssistant: the sub-role is the name after '#', its parent before it.
      return { scope: m[1] === 'membership' ? 'context' : 'other', name: m[2] ?? m[3]!, sub: m[2] ? m[3]! : null };
    }
    return { scope: 'context', name: r.trim(), sub: null };
  };
  const parsed = roles.map(parse);
  const context = parsed.filter((p) => p.scope === 'context');
  const use = context.length ? context : parsed;
  const staff = new Set(['Instructor', 'TeachingAssistant', 'ContentDeveloper', 'Administrator']);
  if (use.some((p) => staff.has(p.name) || (p.sub !== null && staff.has(p.sub) && p.name !== 'Learner' && p.name !== 'Mentor'))) return 'instructor';
  if (use.some((p) => p.name === 'Learner' && p.sub === null)) return 'learner';
  return 'viewer';
}

/** The hub identity of an LMS user: the same person is the same learner across classes and devices. */
export function hubUserId(platformId: number, sub: string): string {
  const id = `lti${platformId}:${sub}`;
  return id.length <= 128 && !/[\u0000-\u001f]/.test(id) ? id : `lti${platformId}:#${createHash('sha256').update(sub).digest('hex').slice(0, 40)}`;
}

export interface Launch {
  kind: 'resource' | 'deep-linking';
  issuer: string;
  deploymentId: string;
  sub: string;
  name: string;
  email: string | null;
  roles: string[];
  role: KmkRole;
  context: { id: string; title: string } | null;
  resourceLinkId: string | null;
  targetLinkUri: string;
  custom: Record<string, string>;
  nrpsUrl: string | null;
  ags: { lineItems: string | null; lineItem: string | null; scopes: string[] } | null;
  deepLinking: { returnUrl: string; data: string | null; acceptTypes: string[]; acceptLineItem: boolean; title: string | null } | null;
  returnUrl: string | null;
}

const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);
const obj = (v: unknown): Record<string, unknown> | null => (typeof v === 'object' && v !== null && !Array.isArray(v) ? v as Record<string, unknown> : null);

/** Reads a verified payload; a string naming the failed check when a required claim is missing or wrong. */
export function readLaunch(p: Record<string, unknown>): Launch | string {
  const type = p[CLAIM.messageType];
  if (type !== 'LtiResourceLinkRequest' && type !== 'LtiDeepLinkingRequest') return `message_type: ${JSON.stringify(type)} is not a launch this tool accepts`;
  if (p[CLAIM.version] !== '1.3.0') return `version: expected "1.3.0", got ${JSON.stringify(p[CLAIM.version])}`;
  const deploymentId = str(p[CLAIM.deploymentId]);
  if (!deploymentId) return 'deployment_id: claim missing';
  const sub = str(p.sub);
  if (!sub) return 'sub: claim missing (anonymous launches are not supported)';
  if (!Array.isArray(p[CLAIM.roles]) || !(p[CLAIM.roles] as unknown[]).every((r) => typeof r === 'string')) return 'roles: claim missing or not a list of strings';
  const roles = p[CLAIM.roles] as string[];
  const target = str(p[CLAIM.targetLinkUri]);
  const ctx = obj(p[CLAIM.context]);
  const context = ctx && str(ctx.id) ? { id: ctx.id as string, title: str(ctx.title) ?? str(ctx.label) ?? 'Course' } : null;
  const link = obj(p[CLAIM.resourceLink]);
  const resourceLinkId = link ? str(link.id) : null;
  let deepLinking: Launch['deepLinking'] = null;
  if (type === 'LtiResourceLinkRequest') {
    if (!resourceLinkId) return 'resource_link: claim (with an id) missing';
    if (!target) return 'target_link_uri: claim missing';
  } else {
    const dl = obj(p[CLAIM.deepLinkingSettings]);
    const returnUrl = dl ? str(dl.deep_link_return_url) : null;
    if (!dl || !returnUrl) return 'deep_linking_settings: claim (with deep_link_return_url) missing';
    const accept = Array.isArray(dl.accept_types) ? dl.accept_types.filter((t): t is string => typeof t === 'string') : [];
    if (!accept.includes('ltiResourceLink')) return 'deep_linking_settings: the platform does not accept ltiResourceLink items';
    deepLinking = { returnUrl, data: str(dl.data), acceptTypes: accept, acceptLineItem: dl.accept_lineitem !== false, title: str(dl.title) };
  }
  if (!context) return 'context: claim (with an id) missing; launch the tool from a course';
  const customRaw = obj(p[CLAIM.custom]) ?? {};
  const custom: Record<string, string> = {};
  for (const [k, v] of Object.entries(customRaw)) if (typeof v === 'string' || typeof v === 'number') custom[k] = String(v);
  const nrps = obj(p[CLAIM.nrps]);
  const agsClaim = obj(p[CLAIM.ags]);
  const ags = agsClaim ? {
    lineItems: str(agsClaim.lineitems), lineItem: str(agsClaim.lineitem),
    scopes: Array.isArray(agsClaim.scope) ? agsClaim.scope.filter((s): s is string => typeof s === 'string') : [],
  } : null;
  const given = [str(p.given_name), str(p.family_name)].filter(Boolean).join(' ');
  const name = (str(p.name) ?? (given || null) ?? str(p.email) ?? 'LMS user').replace(/[\u0000-\u001f\u007f]/g, ' ').trim().slice(0, 80) || 'LMS user';
  const presentation = obj(p[CLAIM.launchPresentation]);
  return {
    kind: type === 'LtiResourceLinkRequest' ? 'resource' : 'deep-linking',
    issuer: String(p.iss), deploymentId, sub, name, email: str(p.email), roles, role: mapRoles(roles), context, resourceLinkId,
    targetLinkUri: target ?? '', custom, nrpsUrl: nrps ? str(nrps.context_memberships_url) : null, ags, deepLinking,
    returnUrl: presentation ? str(presentation.return_url) : null,
  };
}
