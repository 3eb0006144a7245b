// The learner and instructor pages: a small HTML shell per page (the bundled scripts do the rest), the security
// headers that let an LMS frame them and nothing else, and the bundled assets, read into memory once at start
// (source maps excepted: 5 MB that only a browser's developer tools ask for are read from disk when asked).

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HttpAnswer } from './app.js';

// From src/http (tests) and dist/http (built) alike: the bundles are always built into <package>/dist/web.
export const WEB_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'web');

const TYPES: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.map': 'application/json' };

export interface Asset {
  type: string;
  /** The bytes, held in memory; absent for a source map. */
  body?: Buffer;
  /** The file on disk (a source map is read from it each time it is asked for). */
  file: string;
}

export function loadAssets(dir = WEB_DIR): Map<string, Asset> {
  const out = new Map<string, Asset>();
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    const ext = name.slice(name.lastIndexOf('.'));
    const type = TYPES[ext];
    const file = join(dir, name);
    if (type) out.set(name, ext === '.map' ? { type, file } : { type, file, body: readFileSync(file) });
  }
  return out;
}

/** A Host header fit to name in a CSP source (a host name or address, an optional port); '' otherwise. */
export function cspHost(host: string): string {
  return /^([A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(:\d{1,5})?$/.test(host) ? host : '';
}

/** Strict CSP: our own scripts and styles only; media from blobs (MSE); frames only by the configured LMS; sockets
 * only to the host that served the page (`wsHost`, none when empty). */
export function securityHeaders(frameAncestors: string, formAction = "'self'", cdn = '', wsHost = ''): Record<string, string> {
  const media = cdn ? ` ${cdn}` : ''; // hls.cdnBaseUrl: segments come from the CDN host
  const ws = wsHost ? ` ws://${wsHost} wss://${wsHost}` : '';
  return {
    'Content-Security-Policy': [
      "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", `media-src 'self' blob: https://stream.mux.com${media}`,
      // Overflow classes and archived replays play from Mux.
      `connect-src 'self'${ws} https://stream.mux.com https://*.mux.com${media}`,
      "worker-src 'self' blob:", "object-src 'none'", "base-uri 'none'", `form-action ${formAction}`,
      `frame-ancestors ${frameAncestors}`,
    ].join('; '),
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-cache',
  };
}

/** The start of every page up to the icon link: doctype, charset, viewport, both colour schemes, title. */
function documentHead(title: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">`;
}

export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function page(kind: 'watch' | 'studio', slug: string, title: string, frameAncestors: string, guests = false, cdn = '', host = ''): HttpAnswer {
  const body = `${documentHead(`${title}${kind === 'studio' ? ' — studio' : ''}`)}
<link rel="manifest" href="/manifest.webmanifest">
<link rel="stylesheet" href="/assets/app.css">
</head>
<body>
<div id="app" data-channel="${escapeHtml(slug)}" data-title="${escapeHtml(title)}" data-guests="${guests ? 'on' : 'off'}"><noscript>This page needs JavaScript.</noscript></div>
<script src="/assets/${kind}.js"></script>
</body>
</html>
`;
  return { status: 200, headers: { 'Content-Type': 'text/html; charset=utf-8', ...securityHeaders(frameAncestors, "'self'", cdn, cspHost(host)) }, body };
}

/** The app icon: a play triangle in a rounded square, in the accent colour (served as /favicon.svg and /favicon.ico). */
export const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" rx="14" fill="#2563eb"/><path d="M25 19v26l21-13z" fill="#fff"/></svg>
`;

/** GET /: what this server is and where to go, for a person who types the address into a browser. */
export function landing(frameAncestors: string): HttpAnswer {
  const body = `${documentHead('KMK LiveStream')}
<link rel="stylesheet" href="/assets/app.css">
</head>
<body>
<main class="landing">
<h1>KMK LiveStream</h1>
<p>This server runs live classes. Learners open a class from their course page in the LMS (or a link their teacher
sent: <code>/watch/&lt;channel&gt;</code>); instructors open <code>/studio/&lt;channel&gt;</code> with an instructor link.</p>
<ul>
<li><a href="/healthz">Health</a> (for monitoring)</li>
<li><a href="/lti/config.json">LTI 1.3 tool configuration</a> (for the LMS administrator)</li>
<li>REST API: <code>/api/…</code> with an API token (<code>kmk-live token create</code>); channels with <code>kmk-live channel list</code></li>
</ul>
</main>
</body>
</html>
`;
  return { status: 200, headers: { 'Content-Type': 'text/html; charset=utf-8', ...securityHeaders(frameAncestors) }, body };
}

/** The web app manifest: the app icon a phone uses when a learner adds the class to the home screen. */
export const MANIFEST = JSON.stringify({
  name: 'KMK LiveStream', short_name: 'KMK Live', display: 'standalone', background_color: '#111318', theme_color: '#2563eb',
  icons: [{ src: '/favicon.svg', sizes: 'any', type: 'image/svg+xml', purpose: 'any' }],
});
