// The HTML the LTI endpoints answer: a clear error page, the postMessage-storage hop, the deep-linking class
// picker and the form that returns the picked class to the LMS. Server-rendered, escaped, no inline script.

import type { ScheduledClass } from '../domain/records.js';
import type { HttpAnswer } from './app.js';
import { escapeHtml, securityHeaders } from './pages.js';

function shell(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="/assets/app.css">
</head>
<body class="lti">
<main class="lti-page">
${body}
</main>
</body>
</html>
`;
}

const html = (status: number, body: string, frameAncestors: string, formAction?: string): HttpAnswer =>
  ({ status, headers: { 'Content-Type': 'text/html; charset=utf-8', ...securityHeaders(frameAncestors, formAction) }, body });

export function ltiError(status: number, check: string, message: string, frameAncestors: string): HttpAnswer {
  return html(status, shell('Cannot open the live class', `<h1>Cannot open the live class</h1>
<p class="lti-error">${escapeHtml(message)}</p>
<p class="sub">Open the class again from the course page. If this keeps happening, give your administrator this code: <code>lti-${escapeHtml(check)}</code>.</p>`), frameAncestors);
}

/**
 * A page that talks to the platform's storage frame, then goes on to `next`: 'put' keeps the login's binding there
 * (lti.put_data) before the LMS is asked to authenticate; 'get' reads it back (lti.get_data) and hands it to
 * `next` (/lti/continue) as `proof`, which decides: the page itself holds nothing a forged launch could use.
 */
export function ltiStorageHop(action: 'put' | 'get', o: { key: string; value?: string; target: string; origin: string; next: string }, frameAncestors: string): HttpAnswer {
  const a = (k: string, v: string): string => `data-${k}="${escapeHtml(v)}"`;
  return html(200, shell('Opening the live class…', `<div id="lti" ${a('action', action)} ${a('key', `kmk_state_${o.key}`)} ${o.value ? a('value', o.value) : ''} ${a('target', o.target)} ${a('origin', o.origin)} ${a('next', o.next)}></div>
<p id="lti-status">Opening the live class…</p>
${action === 'put' ? `<p class="sub"><a href="${escapeHtml(o.next)}">Continue</a> if nothing happens.</p>` : ''}
<script src="/assets/lti.js"></script>`), frameAncestors);
}

export function ltiPicker(o: { ctx: string; courseTitle: string; classes: ScheduledClass[]; title: string | null }, frameAncestors: string): HttpAnswer {
  const rows = o.classes.map((k) => `<label class="pick"><input type="radio" name="class" value="${k.id}"> ${escapeHtml(k.title)}
  <span class="sub">${escapeHtml(new Date(k.startsAt).toUTCString())}, ${k.minutes} min</span></label>`).join('\n');
  return html(200, shell('Add a live class', `<h1>Add a live class to ${escapeHtml(o.courseTitle)}</h1>
<form method="post" action="/lti/deep-link" class="lti-form">
<input type="hidden" name="ctx" value="${escapeHtml(o.ctx)}">
<input type="hidden" name="tzOffsetMinutes" id="tz" value="0">
${rows ? `<fieldset><legend>An existing class</legend>${rows}</fieldset>` : '<p class="sub">No classes are scheduled for this course yet.</p>'}
<fieldset><legend>A new class</legend>
<label class="pick"><input type="radio" name="class" value="new" ${rows ? '' : 'checked'}> Schedule a new class</label>
<label>Title <input name="title" maxlength="200" value="${escapeHtml(o.title ?? '')}"></label>
<label>Starts <input type="datetime-local" name="startsAt"></label>
<label>Length (minutes) <input type="number" name="minutes" min="5" max="600" value="60"></label>
<label><input type="checkbox" name="record" value="on" checked> Record (replay afterwards)</label>
</fieldset>
<button type="submit">Add to the course</button>
</form>
<div id="lti" data-action="pick"></div>
<script src="/assets/lti.js"></script>`), frameAncestors);
}

/** Posts the signed LtiDeepLinkingResponse back to the LMS (automatically; the button is the fallback). */
export function ltiReturn(returnUrl: string, jwt: string, title: string, frameAncestors: string): HttpAnswer {
  const origin = new URL(returnUrl).origin;
  return html(200, shell('Returning to the course…', `<h1>“${escapeHtml(title)}” is ready</h1>
<form method="post" action="${escapeHtml(returnUrl)}" id="lti-form">
<input type="hidden" name="JWT" value="${escapeHtml(jwt)}">
<button type="submit">Return to the course</button>
</form>
<div id="lti" data-action="submit"></div>
<script src="/assets/lti.js"></script>`), frameAncestors, origin);
}
