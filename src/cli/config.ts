// `kmk-live config print`: the effective configuration, secrets redacted.

import type { Command } from 'commander';
import { redacted } from '../config/load.js';
import { flatten } from '../config/load.js';
import { contextFor } from './context.js';
import { print, printJson } from './output.js';

export function registerConfig(program: Command): void {
  const group = program.command('config').description('inspect the configuration');
  group.command('print')
    .description('print the effective config (defaults < file < KMK_* environment), secrets redacted')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ kmk-live config print --json\n  $ KMK_HTTP_PORT=9090 kmk-live config print')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      const view = redacted(contextFor(cmd).config);
      if (o.json) return printJson(view);
      print([...flatten(view)].map(([k, v]) => `${k} = ${JSON.stringify(v)}`).join('\n'));
    });
}
