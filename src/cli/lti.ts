// `kmk-live lti …`: register LMS platforms, rotate the tool's keys, see the attendance passback outbox.

import type { Command } from 'commander';
import { ValidationError } from '../domain/errors.js';
import { ToolKeys } from '../lti/keys.js';
import { PlatformServices } from '../lti/services.js';
import { hubUserId, mapRoles, NRPS_SCOPE } from '../lti/claims.js';
import { parsePlatform, parseServiceHost } from '../lti/platforms.js';
import { publicBaseUrl } from '../config/urls.js';
import { contextFor } from './context.js';
import { fields, print, printJson, table } from './output.js';

const collect = (v: string, prev: string[]): string[] => [...prev, v];
const platformId = (v: string): number => {
  if (!/^\d{1,9}$/.test(v)) throw new ValidationError(`platform id must be a number (see: kmk-live lti platform list), not ${JSON.stringify(v.slice(0, 40))}`);
  return Number(v);
};

export function registerLti(program: Command): void {
  const group = program.command('lti').description('LTI 1.3: register LMS platforms, rotate tool keys, see attendance passback');
  const platform = group.command('platform').description('LMS platforms (Canvas, Moodle, Blackboard, D2L) this tool trusts');

  platform.command('add')
    .description('register a platform with the values its LTI 1.3 registration shows')
    .requiredOption('--issuer <url>', 'the platform issuer (iss)')
    .requiredOption('--client-id <id>', 'the client id the LMS gave this tool')
    .requiredOption('--auth-url <url>', 'OIDC authentication request URL')
    .requiredOption('--token-url <url>', 'OAuth2 access token URL')
    .requiredOption('--jwks-url <url>', 'the platform\'s public keyset URL')
    .option('--deployment-id <id>', 'a deployment id (repeat for several)', collect, [])
    .option('--service-host <host>', 'a host the LMS\'s services (roster, gradebook) live on besides the registration\'s own (Blackboard: your Learn host); repeat for several', collect, [])
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ kmk-live lti platform add --issuer https://canvas.instructure.com --client-id 10000000000042 \\\n'
      + '      --auth-url https://sso.canvaslms.com/api/lti/authorize_redirect --token-url https://sso.canvaslms.com/login/oauth2/token \\\n'
      + '      --jwks-url https://sso.canvaslms.com/api/lti/security/jwks --deployment-id 42:abc')
    .action(async (o: { issuer: string; clientId: string; authUrl: string; tokenUrl: string; jwksUrl: string; deploymentId: string[]; serviceHost: string[]; json?: boolean }, cmd: Command) => {
      const ctx = contextFor(cmd);
      const p = (await ctx.store().lti.addPlatform(parsePlatform({ issuer: o.issuer, clientId: o.clientId, authUrl: o.authUrl, tokenUrl: o.tokenUrl, jwksUrl: o.jwksUrl, deploymentIds: o.deploymentId, serviceHosts: o.serviceHost })));
      if (o.json) return printJson(p);
      const base = publicBaseUrl(ctx.config);
      print(`Platform ${p.id} registered (${p.issuer}, client id ${p.clientId}).`);
      if (p.deploymentIds.length === 0) print(`No deployment id yet: launches are refused until you add one: kmk-live lti platform deployment ${p.id} <id>`);
      print(`\nIn the LMS, the tool's URLs are:\n  Login (OIDC initiation): ${base}/lti/login\n  Launch / redirect URI:   ${base}/lti/launch\n  Public keyset (JWKS):    ${base}/lti/jwks\n  Canvas JSON:             ${base}/lti/config.json`);
    });

  platform.command('deployment <platformId> <deploymentId>')
    .description('add a deployment id to a registered platform')
    .addHelpText('after', '\nExample:\n  $ kmk-live lti platform deployment 1 42:abc')
    .action(async (id: string, dep: string, _o: unknown, cmd: Command) => {
      const repo = contextFor(cmd).store().lti;
      const p = await repo.platform(platformId(id));
      if (!/^[\x21-\x7e]{1,255}$/.test(dep)) throw new ValidationError('a deployment id is 1-255 printable characters');
      await repo.addDeployment(p.id, dep);
      print(`Deployment ${dep} added to platform ${p.id}.`);
    });

  platform.command('service-host <platformId> <host>')
    .description('allow the LMS\'s roster and gradebook services on another host (https only; the tool sends the LMS\'s access token nowhere else)')
    .addHelpText('after', '\nExample:\n  $ kmk-live lti platform service-host 1 learn.school.edu')
    .action(async (id: string, host: string, _o: unknown, cmd: Command) => {
      const repo = contextFor(cmd).store().lti;
      const p = await repo.addServiceHost((await repo.platform(platformId(id))).id, parseServiceHost(host));
      print(`Platform ${p.id} may use services on: ${p.serviceHosts.join(', ')} (and its own hosts).`);
    });

  platform.command('list')
    .description('list registered platforms')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ kmk-live lti platform list --json')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      const ps = (await contextFor(cmd).store().lti.platforms());
      if (o.json) return printJson(ps);
      if (ps.length === 0) return print('No LMS platforms registered. Add one: kmk-live lti platform add --help');
      print(table(['id', 'issuer', 'client id', 'deployments'], ps.map((p) => [p.id, p.issuer, p.clientId, p.deploymentIds.join(',')])));
    });

  platform.command('show <id>')
    .description('show one platform')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ kmk-live lti platform show 1')
    .action(async (id: string, o: { json?: boolean }, cmd: Command) => {
      const p = (await contextFor(cmd).store().lti.platform(platformId(id)));
      if (o.json) return printJson(p);
      print(fields([['id', p.id], ['issuer', p.issuer], ['client id', p.clientId], ['auth url', p.authUrl], ['token url', p.tokenUrl],
        ['jwks url', p.jwksUrl], ['deployments', p.deploymentIds.join(', ') || 'none'], ['service hosts', p.serviceHosts.join(', ') || 'its own only'], ['registered', p.createdAt]]));
    });

  platform.command('remove <id>')
    .description('forget a platform (its launches stop working)')
    .addHelpText('after', '\nExample:\n  $ kmk-live lti platform remove 1')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      await contextFor(cmd).store().lti.removePlatform(platformId(id));
      print(`Platform ${id} removed.`);
    });

  const keys = group.command('keys').description('the tool\'s RS256 signing keys (published at /lti/jwks)');
  keys.command('rotate')
    .description('make a new signing key; the old one stays published for an hour')
    .addHelpText('after', '\nExample:\n  $ kmk-live lti keys rotate')
    .action(async (_o: unknown, cmd: Command) => {
      const k = await new ToolKeys(contextFor(cmd).store().lti).rotate();
      print(`New tool key ${k.kid} is active; the previous key stays in the JWKS for an hour.`);
    });
  keys.command('list')
    .description('list the tool keys (never the private parts)')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ kmk-live lti keys list')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      const list = await new ToolKeys(contextFor(cmd).store().lti).list();
      if (o.json) return printJson(list);
      if (list.length === 0) return print('No tool key yet: one is made when the server starts (or: kmk-live lti keys rotate).');
      print(table(['kid', 'created', 'retired', 'published'], list.map((k) => [k.kid, k.createdAt, k.retiredAt ?? '', k.published ? 'yes' : 'no'])));
    });

  group.command('courses')
    .description('courses launched from an LMS, with their channel')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ kmk-live lti courses')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      const store = contextFor(cmd).store();
      const slugs = new Map((await store.channels.list()).map((c) => [c.id, c.slug]));
      const list = (await store.classes.courses()).map((c) => ({ ...c, channel: c.channelId === null ? null : slugs.get(c.channelId) ?? null }));
      if (o.json) return printJson(list);
      if (list.length === 0) return print('No courses yet: they appear when an LMS first launches the tool.');
      print(table(['id', 'title', 'platform', 'context', 'channel', 'roster service', 'gradebook'], list.map((c) => [
        c.id, c.title, c.platformId ?? '', c.contextId ?? '', c.channel ?? '', c.nrpsUrl ? 'yes' : 'no', c.agsLineItems ? 'yes' : 'no'])));
    });

  group.command('roster <courseId>')
    .description('the course roster from the LMS (NRPS); --refresh fetches it now')
    .option('--refresh', 'fetch the roster from the LMS first')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ kmk-live lti roster 3 --refresh')
    .action(async (id: string, o: { refresh?: boolean; json?: boolean }, cmd: Command) => {
      const store = contextFor(cmd).store();
      const course = (await store.classes.course(platformId(id)));
      if (o.refresh) {
        if (course.platformId === null || !course.nrpsUrl) throw new ValidationError(`course ${course.id} has no roster service: its LMS did not offer NRPS in a launch`);
        const platform = (await store.lti.platform(course.platformId));
        const members = await new PlatformServices(new ToolKeys(store.lti)).members(platform, course.nrpsUrl, NRPS_SCOPE);
        (await store.classes.replaceRoster(course.id, members.map((m) => ({
          userId: hubUserId(platform.id, m.userId), ltiSub: m.userId, name: m.name.slice(0, 200), email: m.email, role: mapRoles(m.roles),
          active: !/Inactive|Deleted/i.test(m.status),
        })), Date.now()));
      }
      const roster = (await store.classes.roster(course.id));
      if (o.json) return printJson(roster);
      if (roster.length === 0) return print(`No roster for course ${course.id} yet (it is fetched when a class ends, or: kmk-live lti roster ${course.id} --refresh).`);
      print(table(['name', 'role', 'email', 'LMS id', 'active'], roster.map((m) => [m.name, m.role, m.email ?? '', m.ltiSub, m.active ? 'yes' : 'no'])));
    });

  group.command('outbox')
    .description('attendance passback waiting for, or refused by, the LMS')
    .option('--all', 'include items already delivered')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ kmk-live lti outbox')
    .action(async (o: { all?: boolean; json?: boolean }, cmd: Command) => {
      const items = (await contextFor(cmd).store().lti.outbox({ all: o.all }));
      if (o.json) return printJson(items);
      if (items.length === 0) return print(o.all ? 'The outbox is empty.' : 'Nothing pending: every attendance score has reached the LMS.');
      print(table(['id', 'what', 'class', 'status', 'attempts', 'next try', 'last error'], items.map((i) => [
        i.id, i.kind === 'score' ? `score ${i.key.split(':').slice(2).join(':')}` : 'roster + line item', i.classId, i.status, i.attempts,
        i.status === 'pending' ? new Date(i.nextAt).toISOString() : '', (i.lastError ?? '').slice(0, 60),
      ])));
    });
}
