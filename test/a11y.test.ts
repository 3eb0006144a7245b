// Accessibility of the pages, checked by axe-core (WCAG 2.0/2.1 A and AA rules) in real Chromium, and used with
// the keyboard alone: the watch page live (captions on), the captioner's desk, the studio, and a replay with its
// transcript, at 1280 and 390 px, light and dark. No serious or critical violation is allowed.

import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';
import { signJoinToken } from '../src/auth/join-token.js';
import { loadJoinSecret } from '../src/auth/join-secret.js';
import type { Role } from '../src/domain/roles.js';
import { launch } from './helpers/browser.js';
import { push, startTestServer, waitFor } from './helpers/server.js';
import { testdir } from './helpers/testdir.js';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const dir = testdir(t);
const ts = await startTestServer(dir);
t.teardown(() => ts.server.stop());
const secret = loadJoinSecret('', ts.server.config['paths.data']);
const token = (sub: string, role: Role): string => signJoinToken({ sub, name: `User ${sub}`, role, channel: 'bio', exp: Math.floor(Date.now() / 1000) + 3600 }, secret);
const { key } = ts.createChannel('bio', { ladder: ['240p'], latency: 'low', public: false, captions: ['en'] });
const b = await launch();
t.teardown(() => b.close());

interface Violation { id: string; impact: string; help: string; nodes: { target: string[] }[] }
async function axe(page: Page): Promise<Violation[]> {
  // Evaluated over the DevTools protocol: the pages' Content-Security-Policy (script-src 'self') stays on.
  await page.evaluate(AXE);
  const r = await page.evaluate(async () => {
    const run = (window as unknown as { axe: { run(ctx: unknown, o: unknown): Promise<{ violations: Violation[]; passes: unknown[] }> } }).axe.run;
    return run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
  });
  // axe ran: it checked the page against rules that passed (contrast, names, labels…), not against nothing.
  if (r.passes.length < 10) throw new Error(`axe checked only ${r.passes.length} rules`);
  return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}
const described = (vs: Violation[]): string => vs.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`).join('; ');

async function check(t: Tap.Test, page: Page, what: string): Promise<void> {
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: width === 390 ? 844 : 800 });
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.waitForTimeout(150);
      await page.screenshot({ path: join(dir, 'screenshots', `${what.replace(/\W+/g, '-')}-${width}-${scheme}.png`), fullPage: width === 390 });
      const vs = await axe(page);
      t.same(vs.map((v) => v.id), [], `${what}, ${width} px, ${scheme}: no serious violation${vs.length ? ` — ${described(vs)}` : ''}`);
    }
  }
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize({ width: 1280, height: 800 });
}

/** What Tab reaches, in order, as "tag:label" (a keyboard user's path through the page). */
async function tabPath(page: Page, max = 60): Promise<string[]> {
  // From the top of the page: a focusable mark before everything, focused, then left by the first Tab.
  await page.evaluate(() => {
    const start = document.createElement('a');
    start.href = '#';
    start.id = 'tab-start';
    start.textContent = 'start';
    document.body.prepend(start);
    start.focus();
  });
  const seen: string[] = [];
  for (let i = 0; i < max; i += 1) {
    await page.keyboard.press('Tab');
    const d = await page.evaluate(() => {
      const e = document.activeElement as HTMLElement | null;
      if (!e || e === document.body) return null;
      const label = e.getAttribute('aria-label') ?? e.getAttribute('placeholder') ?? e.textContent?.trim().slice(0, 30) ?? '';
      const outline = getComputedStyle(e).outlineStyle !== 'none' || getComputedStyle(e).boxShadow !== 'none';
      return `${e.tagName.toLowerCase()}:${label}${outline ? '' : ' (no focus ring)'}`;
    });
    if (!d || seen.includes(d)) break;
    seen.push(d);
  }
  await page.evaluate(() => document.getElementById('tab-start')?.remove());
  return seen;
}

const pub = push(ts.rtmp(key), { size: '426x240' });
t.teardown(() => pub.kill('SIGKILL'));
await waitFor('the class', () => ts.server.live.current('bio')?.state === 'live', 40000);

t.test('watch page, live, captions on', async (t) => {
  const page = await b.newPage({ width: 1280, height: 800 });
  await page.goto(`${ts.base}/watch/bio?token=${token('amy', 'learner')}`);
  await page.waitForFunction(() => document.querySelector('video')!.currentTime > 1, undefined, { timeout: 40000 });
  const path = await tabPath(page);
  t.comment(path.join(' | '));
  for (const want of ['Pause (k)', 'Mute', 'Volume', 'Go to the live edge', 'Quality', 'Captions', 'Full screen', 'chat message', 'Send', 'question', 'Ask', 'Raise hand', 'react 👍']) {
    t.ok(path.some((p) => p.includes(want)), `Tab reaches ${want}`);
  }
  t.same(path.filter((p) => p.endsWith('(no focus ring)')), [], 'every control shows where the focus is');
  await page.locator('.player').focus();
  await page.keyboard.press('c');
  t.equal(await page.locator('.player button.cc').getAttribute('aria-pressed'), 'true', 'c turns captions on from the keyboard');
  await page.keyboard.press('k');
  await page.waitForFunction(() => document.querySelector('video')!.paused);
  t.pass('k pauses');
  await page.keyboard.press('k');
  await check(t, page, 'watch page');
  await page.close();
});

t.test('the captioner\'s desk', async (t) => {
  const page = await b.newPage({ width: 1280, height: 800 });
  await page.goto(`${ts.base}/watch/bio?token=${token('cap', 'captioner')}`);
  await page.getByLabel(/Line to send/).waitFor({ state: 'visible', timeout: 30000 });
  const path = await tabPath(page);
  t.ok(path.some((p) => p.startsWith('textarea:')), 'Tab reaches the line to send');
  t.ok(path.some((p) => p.includes('Send line')), 'and its button');
  await check(t, page, 'caption desk');
  await page.close();
});

t.test('the studio', async (t) => {
  const page = await b.newPage({ width: 1280, height: 800 });
  await page.goto(`${ts.base}/studio/bio?token=${token('prof', 'instructor')}`);
  await page.locator('.captions-card').waitFor({ state: 'visible', timeout: 30000 });
  const path = await tabPath(page, 120);
  for (const want of ['Live', 'Reports', 'Turn on camera and microphone', 'Rotate stream key', 'Send line']) t.ok(path.some((p) => p.includes(want)), `Tab reaches ${want}`);
  await check(t, page, 'studio');
  await page.close();
});

t.test('a replay with its transcript', async (t) => {
  const session = ts.server.live.current('bio')!.sessionId;
  const cap = await b.newPage({ width: 1280, height: 800 });
  await cap.goto(`${ts.base}/watch/bio?token=${token('cap', 'captioner')}`);
  const box = cap.getByLabel(/Line to send/);
  await box.waitFor({ state: 'visible', timeout: 30000 });
  for (const line of ['Welcome to the class', 'Cells have a membrane']) {
    await box.fill(line);
    await box.press('Enter');
  }
  await cap.locator('.caption-sent li').nth(1).waitFor();
  await cap.close();
  pub.kill('SIGKILL');
  await waitFor('the class to end', () => ts.server.live.current('bio') === undefined, 30000);
  const page = await b.newPage({ width: 1280, height: 800 });
  await page.goto(`${ts.base}/watch/bio?token=${token('amy', 'learner')}&replay=${session}`);
  await page.getByRole('button', { name: /Watch the replay/ }).click({ timeout: 20000 });
  await page.locator('.transcript-lines li').first().waitFor({ timeout: 20000 });
  const path = await tabPath(page);
  t.comment(path.join(' | '));
  t.ok(path.some((p) => p.includes('Search the transcript')), 'Tab reaches the transcript search');
  t.ok(path.some((p) => p.includes('Seek')), 'and the seek bar');
  t.ok(path.some((p) => p.includes('Welcome to the class')), 'and each line');
  await check(t, page, 'replay');
});
