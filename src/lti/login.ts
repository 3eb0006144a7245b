// OIDC third-party initiated login (LTI 1.3 core §5.1.1): checks the platform's login request and builds the
// authentication request it redirects to. Pure: state and nonce are passed in, nothing is stored here.

import type { Platform } from '../domain/records.js';

export interface LoginParams {
  iss?: string;
  login_hint?: string;
  target_link_uri?: string;
  lti_message_hint?: string;
  client_id?: string;
  lti_deployment_id?: string;
  lti_storage_target?: string;
}

export type LoginPlan =
  | { ok: true; platform: Platform; redirect: string; storageTarget: string | null }
  | { ok: false; status: 400 | 403; check: string; message: string };

const fail = (status: 400 | 403, check: string, message: string): LoginPlan => ({ ok: false, status, check, message });

export function planLogin(p: LoginParams, platforms: readonly Platform[], toolBase: string, state: string, nonce: string): LoginPlan {
  if (!p.iss) return fail(400, 'iss', 'The login request has no issuer (iss).');
  if (!p.login_hint) return fail(400, 'login_hint', 'The login request has no login_hint.');
  if (!p.target_link_uri) return fail(400, 'target_link_uri', 'The login request has no target_link_uri.');
  let target: URL;
  try {
    target = new URL(p.target_link_uri);
  } catch {
    return fail(400, 'target_link_uri', 'The target_link_uri is not a URL.');
  }
  const base = new URL(toolBase);
  if (target.origin !== base.origin || !target.pathname.startsWith(`${base.pathname.replace(/\/$/, '')}/lti/`)) {
    return fail(400, 'target_link_uri', `The target_link_uri must be this tool's launch URL (${toolBase}/lti/launch).`);
  }
  const candidates = platforms.filter((x) => x.issuer === p.iss && (!p.client_id || x.clientId === p.client_id));
  if (candidates.length === 0) return fail(403, 'iss', 'This LMS (issuer and client id) is not registered with this tool. Ask the administrator to run: kmk-live lti platform add …');
  if (candidates.length > 1) return fail(400, 'client_id', 'Several registrations share this issuer; the login request must name its client_id.');
  const platform = candidates[0]!;
  if (p.lti_deployment_id && !platform.deploymentIds.includes(p.lti_deployment_id)) {
    return fail(403, 'lti_deployment_id', `Deployment ${p.lti_deployment_id} is not registered for this LMS.`);
  }
  const url = new URL(platform.authUrl);
  const q: Record<string, string> = {
    scope: 'openid', response_type: 'id_token', response_mode: 'form_post', prompt: 'none', client_id: platform.clientId,
    redirect_uri: `${toolBase}/lti/launch`, login_hint: p.login_hint, state, nonce,
  };
  if (p.lti_message_hint) q.lti_message_hint = p.lti_message_hint;
  for (const [k, v] of Object.entries(q)) url.searchParams.set(k, v);
  const storage = p.lti_storage_target && /^[A-Za-z0-9_.-]{1,64}$/.test(p.lti_storage_target) ? p.lti_storage_target : null;
  return { ok: true, platform, redirect: url.toString(), storageTarget: storage };
}

/** application/x-www-form-urlencoded or a query string → the first value of each name. */
export function formFields(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(text)) if (!(k in out)) out[k] = v;
  return out;
}
