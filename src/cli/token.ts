// `kmk-live token …`: API tokens for the REST API, and join tokens for the engagement hub and the pages.

import type { Command } from 'commander';
import { parseScopes, parseTokenName, SCOPES } from '../domain/api-tokens.js';
import { loadJoinSecret } from '../auth/join-secret.js';
import { ROLES } from '../domain/roles.js';
import { parseSlug } from '../domain/channel.js';
import { mint } from '../auth/mint.js';
import { ValidationError } from '../domain/errors.js';
import { publicBaseUrl } from '../config/urls.js';
import { contextFor } from './context.js';
import { print, printJson, table } from './output.js';

export function registerToken(program: Command): void {
  const group = program.command('token').description('manage API tokens (REST API) and mint join tokens (learner, moderator and instructor links)');

  group.command('create <name>')
    .description('create an API token; it is shown once')
    .requiredOption('--scopes <list>', `comma-separated: ${SCOPES.join(', ')} (tokens:join mints learner and viewer join tokens; tokens:staff also instructor, moderator and captioner ones)`)
    .option('--channel <slug>', 'limit the token to this channel (repeat for several); default: every channel', (v: string, all: string[] = []) => [...all, v])
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ kmk-live token create lms --scopes channels:read,tokens:join\n  $ kmk-live token create math-dept --scopes sessions:read,tokens:join,tokens:staff --channel math-101 --channel math-102')
    .action(async (nameArg: string, o: { scopes: string; channel?: string[]; json?: boolean }, cmd: Command) => {
      const name = parseTokenName(nameArg);
      const scopes = parseScopes(o.scopes);
      const store = contextFor(cmd).store();
      const channels = o.channel ? await Promise.all(o.channel.map(async (c) => (await store.channels.get(parseSlug(c))).slug)) : null;
      const { token, info } = await store.apiTokens.create(name, scopes, channels);
      if (o.json) return printJson({ ...info, token });
      print(`API token "${name}" (${scopes.join(', ')}${channels ? `; only channel${channels.length > 1 ? 's' : ''} ${channels.join(', ')}` : ''}):\n\n  ${token}\n`);
      print(`Shown only now (fingerprint ${info.fingerprint}). Send it as: Authorization: Bearer <token>`);
    });

  group.command('list')
    .description('list API tokens (never the tokens themselves)')
    .option('--all', 'include revoked tokens')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ kmk-live token list --json')
    .action(async (o: { all?: boolean; json?: boolean }, cmd: Command) => {
      const tokens = await contextFor(cmd).store().apiTokens.list(o.all ?? false);
      if (o.json) return printJson(tokens);
      if (tokens.length === 0) return print('No API tokens. Create one: kmk-live token create <name> --scopes admin');
      print(table(['name', 'fingerprint', 'scopes', 'channels', 'created', 'last used', 'revoked'],
        tokens.map((t) => [t.name, t.fingerprint, t.scopes.join(','), t.channels ? t.channels.join(',') : 'all', t.createdAt, t.lastUsedAt, t.revokedAt])));
    });

  group.command('join <channel>')
    .description('mint a join token for the engagement hub (learner, moderator or instructor)')
    .option('--user <id>', 'the LMS user id (required)')
    .option('--name <name>', 'display name (required)')
    .option('--role <role>', ROLES.join(', '), 'learner')
    .option('--ttl <ttl>', 'lifetime, e.g. 90m, 4h, 2d (at most 30d; instructors, moderators and captioners at most hub.staffTokenMaxHours, 12h by default)', '4h')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ kmk-live token join math-101 --user 4711 --name "Ada Lovelace" --role learner --ttl 4h\n  $ kmk-live token join math-101 --user prof-7 --name "Prof. Byron" --role instructor')
    .action(async (slug: string, o: { user?: string; name?: string; role: string; ttl: string; json?: boolean }, cmd: Command) => {
      const missing = [o.user === undefined && '--user <id>', o.name === undefined && '--name <name>'].filter(Boolean);
      if (missing.length) throw new ValidationError(`missing required option${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`);
      const ctx = contextFor(cmd);
      const channel = (await ctx.store().channels.get(parseSlug(slug)));
      const secret = loadJoinSecret(ctx.config['hub.joinSecret'], ctx.config['paths.data']);
      const policy = { staff: true, staffMaxSeconds: ctx.config['hub.staffTokenMaxHours'] * 3600 };
      const { token, claims } = mint({ channel: channel.slug, user: o.user, name: o.name, role: o.role, ttl: o.ttl }, secret, Math.floor(Date.now() / 1000), policy);
      const base = publicBaseUrl(ctx.config);
      const watch = `${base}/watch/${channel.slug}?token=${token}`;
      const staff = claims.role === 'instructor' || claims.role === 'moderator';
      const studio = staff ? `${base}/studio/${channel.slug}?token=${token}` : undefined;
      if (o.json) return printJson({ token, claims, expiresAt: new Date(claims.exp * 1000).toISOString(), watchUrl: watch, ...(studio ? { studioUrl: studio } : {}) });
      print(`Join token for ${claims.name} (${claims.role}) in "${channel.slug}", valid until ${new Date(claims.exp * 1000).toISOString()}:\n\n  ${token}\n`);
      print(`Watch page: ${watch}`);
      if (studio) print(`Studio:     ${studio}`);
      if (claims.role === 'captioner') print('            (the caption desk is on the watch page while the class is live; the channel needs --captions human)');
    });

  group.command('revoke-all <channel>')
    .description('end every join token of a channel issued until now (learners, moderators, instructors); links from the LMS work again at the next launch')
    .addHelpText('after', '\nExample:\n  $ kmk-live token revoke-all math-101')
    .action(async (slug: string, _o: unknown, cmd: Command) => {
      const ctx = contextFor(cmd);
      const channel = (await ctx.store().channels.get(parseSlug(slug)));
      const after = (await ctx.store().channels.endJoinTokens(channel.slug));
      print(`Every join token of "${channel.slug}" issued before ${new Date(after * 1000).toISOString()} is void now: new connections, pages and beacons with them are refused.`);
      print('People already connected to the chat keep their socket until they reconnect, at most hub.idleTimeoutSeconds after the server next checks (see docs/security.md).');
    });

  group.command('revoke <nameOrFingerprint>')
    .description('revoke an API token by name or fingerprint')
    .addHelpText('after', '\nExample:\n  $ kmk-live token revoke lms')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const info = (await contextFor(cmd).store().apiTokens.revoke(name));
      print(`API token "${info.name}" (${info.fingerprint}) revoked.`);
    });
}
