// `kmk-live db …`: apply migrations, take an online backup, copy the embedded file into a shared PostgreSQL.

import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConflictError, ValidationError } from '../domain/errors.js';
import { copySqliteToPg } from '../store/copy.js';
import { safeUrl } from '../store/index.js';
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
      const url = ctx.config['store.url'];
      if (o.json) return printJson({ ...(url ? { store: safeUrl(url) } : { file: ctx.config['paths.db'] }), version, applied });
      print(`${url ? `PostgreSQL ${safeUrl(url)}` : `Database ${ctx.config['paths.db']}`} is at schema version ${version}.`);
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

  group.command('copy')
    .description('copy the embedded SQLite file (paths.db) into a PostgreSQL several boxes will share (safe to run again)')
    .requiredOption('--to <url>', 'the PostgreSQL, postgres://user:password@host:port/database')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nStop the server first (a class written during the copy would be missed), then point every box at the target\n(store.url). Rows already in the target are left as they are; a target holding another installation\'s channels is refused.\n\nExample:\n  $ kmk-live db copy --to postgres://kmk:secret@db.school.example/kmk')
    .action(async (o: { to: string; json?: boolean }, cmd: Command) => {
      if (!/^postgres(ql)?:\/\/\S+$/.test(o.to)) throw new ValidationError(`invalid --to ${JSON.stringify(safeUrl(o.to))}: expected a postgres:// URL`);
      const ctx = contextFor(cmd);
      if (ctx.config['store.url']) throw new ValidationError('store.url is set: this installation already runs on PostgreSQL; db copy reads the embedded file (paths.db)');
      const file = ctx.config['paths.db'];
      if (!existsSync(file)) throw new ValidationError(`${file} does not exist: nothing to copy`);
      await ctx.store().migrate(); // the file at the latest schema first
      const report = await copySqliteToPg(file, o.to);
      if (o.json) return printJson({ from: file, to: safeUrl(o.to), tables: report });
      const total = report.reduce((n, r) => n + r.copied, 0);
      print(`Copied ${total} rows from ${file} to ${safeUrl(o.to)}:`);
      for (const r of report.filter((x) => x.source > 0)) print(`  ${r.table.padEnd(18)} ${String(r.source).padStart(7)} in the file, ${String(r.copied).padStart(7)} copied now, ${String(r.target).padStart(7)} in the target`);
      print('Every row of the file is in the target. Set store.url (KMK_STORE_URL) on each box to use it.');
    });
}
