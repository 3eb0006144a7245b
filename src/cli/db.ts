// `kmk-live db …`: apply migrations, take an online backup.

import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConflictError } from '../domain/errors.js';
import { contextFor } from './context.js';
import { print, printJson } from './output.js';

export function registerDb(program: Command): void {
  const group = program.command('db').description('database maintenance');

  group.command('migrate')
    .description('apply pending schema migrations (safe to run any time)')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ kmk-live db migrate')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      const ctx = contextFor(cmd);
      const { version, applied } = (await ctx.store().migrate()); // opening applied what was pending
      if (o.json) return printJson({ file: ctx.config['paths.db'], version, applied });
      print(`Database ${ctx.config['paths.db']} is at schema version ${version}.`);
    });

  group.command('backup <file>')
    .description('write an online, consistent copy of the database (safe while the server runs)')
    .option('--force', 'overwrite FILE if it exists')
    .addHelpText('after', '\nExample:\n  $ kmk-live db backup /var/backups/kmk-$(date +%F).db')
    .action(async (file: string, o: { force?: boolean }, cmd: Command) => {
      const target = resolve(file);
      if (existsSync(target) && !o.force) throw new ConflictError(`${target} exists; pass --force to overwrite it`);
      const ctx = contextFor(cmd);
      if (resolve(ctx.config['paths.db']) === target) throw new ConflictError('the backup file cannot be the database itself');
      await ctx.store().backup(target);
      print(`Backup written to ${target}.`);
    });
}
