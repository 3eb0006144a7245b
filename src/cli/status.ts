// `kmk-live status`: the transcode budget, its use and every live channel, as the running server reports them.

import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ServerStatus } from '../server.js';
import { contextFor } from './context.js';
import { print, printJson, table } from './output.js';
import { STATUS_FILE } from './serve.js';

interface StatusFile extends ServerStatus { writtenAt: string; pid: number }

const mpx = (n: number): string => `${(n / 1e6).toFixed(1)} Mpx/s`;

export function registerStatus(program: Command): void {
  program.command('status')
    .description('show the transcode budget, its use and every live channel (from the running server)')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ kmk-live status')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      const { config } = contextFor(cmd);
      let s: StatusFile | undefined;
      try {
        s = JSON.parse(readFileSync(join(config['paths.data'], STATUS_FILE), 'utf8')) as StatusFile;
      } catch {
        s = undefined;
      }
      const running = s !== undefined && Date.now() - Date.parse(s.writtenAt) < 10000;
      if (o.json) return printJson({ running, ...(running ? s : { channels: [] }) });
      if (!running || !s) {
        print('The server is not running (no fresh status in ' + join(config['paths.data'], STATUS_FILE) + '). Start it: kmk-live serve');
        return;
      }
      print(`Transcode budget: ${mpx(s.used)} used of ${mpx(s.budget)} (${Math.round((100 * s.used) / Math.max(1, s.budget))}%)`);
      const muxOn = config['mux.tokenId'] !== '' && config['mux.tokenSecret'] !== '';
      print(`Mux: ${muxOn ? 'configured (overflow and archive on)' : 'not configured (overflow and archive off)'}`);
      if (s.channels.length === 0) return print('No channel is live.');
      if (s.disk?.message) print(`Media disk: ${s.disk.message}`);
      print(table(['channel', 'state', 'runs on', 'session', 'since', 'viewers', 'ladder', 'speed', 'restarts', 'notes'],
        (await s.channels.map((c) => [c.channel, c.state + (c.slow ? ' (slow)' : '') + (c.transcoder?.crashLoop ? ' (ladder crash loop)' : ''), c.mode === 'mux' ? `Mux (overflow${c.muxStream ? `; stream ${c.muxStream.status}` : ''})` : 'this box', c.sessionId, c.since, c.viewers ?? 0, c.ladder.join(','),
          c.transcoder?.speed?.toFixed(2), c.transcoder?.restarts, c.notes.join('; ')]))));
    });
}
