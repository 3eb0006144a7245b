// `kmk-live key …`: rotate, revoke and list a channel's stream keys.

import type { Command } from 'commander';
import { parseSlug } from '../domain/channel.js';
import { obsServerUrl as obsServer } from '../config/urls.js';
import { contextFor } from './context.js';
import { print, printJson, table } from './output.js';

export function registerKey(program: Command): void {
  const group = program.command('key').description('manage stream keys (one active key per channel)');

  group.command('rotate <channel>')
    .description('issue a new stream key; the old one stops working at once')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ kmk-live key rotate math-101')
    .action(async (slug: string, o: { json?: boolean }, cmd: Command) => {
      const ctx = contextFor(cmd);
      const store = ctx.store();
      const c = (await store.channels.get(parseSlug(slug)));
      const { key, info } = (await store.streamKeys.rotate(c.id));
      if (o.json) return printJson({ channel: c.slug, streamKey: key, fingerprint: info.fingerprint, obs: { server: obsServer(ctx.config), streamKey: key } });
      print(`New stream key for "${c.slug}" (any previous key no longer works):\n`);
      print(`  Server:      ${obsServer(ctx.config)}`);
      print(`  Stream Key:  ${key}`);
      print(`\nShown only now (fingerprint ${info.fingerprint}).`);
    });

  group.command('revoke <channel>')
    .description('revoke the active key: the channel cannot publish until a new key is rotated in')
    .addHelpText('after', '\nExample:\n  $ kmk-live key revoke math-101')
    .action(async (slug: string, _o: unknown, cmd: Command) => {
      const store = contextFor(cmd).store();
      const c = (await store.channels.get(parseSlug(slug)));
      const had = (await store.streamKeys.revoke(c.id));
      print(had ? `Stream key of "${c.slug}" revoked. Issue a new one with: kmk-live key rotate ${c.slug}`
        : `Channel "${c.slug}" had no active stream key.`);
    });

  group.command('list <channel>')
    .description('list a channel\'s keys: fingerprint, created, last used (never the key itself)')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ kmk-live key list math-101 --json')
    .action(async (slug: string, o: { json?: boolean }, cmd: Command) => {
      const store = contextFor(cmd).store();
      const c = (await store.channels.get(parseSlug(slug)));
      const keys = (await store.streamKeys.list(c.id));
      if (o.json) return printJson(keys);
      if (keys.length === 0) return print(`Channel "${c.slug}" has no stream keys.`);
      print(table(['fingerprint', 'status', 'created', 'last used', 'revoked'],
        keys.map((k) => [k.fingerprint, k.active ? 'active' : 'revoked', k.createdAt, k.lastUsedAt, k.revokedAt])));
    });
}
