// `kmk-live status`: the transcode budget, its use and every live channel, as the running server reports them.

import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ServerStatus } from '../server.js';
import type { NodeRow } from '../store/index.js';
import { contextFor } from './context.js';
import { print, printJson, table } from './output.js';
import { STATUS_FILE } from './serve.js';

interface StatusFile extends ServerStatus { writtenAt: string; pid: number }

const mpx = (n: number): string => `${(n / 1e6).toFixed(1)} Mpx/s`;

interface BoxRow { name: string; alive: boolean; url: string; rtmp: string; seenAt: number; used: number; budget: number; classes: { channel: string; session: string; state: string }[] }

/** The boxes' heartbeats as a table's rows (a load a box wrote unreadably counts as nothing). */
function boxRows(rows: NodeRow[], now: number): BoxRow[] {
  return rows.map((n) => {
    let load: Partial<Pick<BoxRow, 'used' | 'budget' | 'classes'>> = {};
    try {
      load = JSON.parse(n.load) as typeof load;
    } catch {
      load = {};
    }
    return { name: n.name, alive: n.leaseUntil >= now, url: n.url, rtmp: n.rtmp, seenAt: n.seenAt, used: load.used ?? 0, budget: load.budget ?? 0, classes: load.classes ?? [] };
  });
}

export function registerStatus(program: Command): void {
  program.command('status')
    .description('show the transcode budget, its use and every live channel (from the running server)')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ kmk-live status')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      const ctx = contextFor(cmd);
      const { config } = ctx;
      // On a shared store every box's heartbeat is there, whether or not a server runs beside this command.
      const boxes = config['store.url'] ? boxRows(await ctx.store().nodes.list(), Date.now()) : undefined;
      let s: StatusFile | undefined;
      try {
        s = JSON.parse(readFileSync(join(config['paths.data'], STATUS_FILE), 'utf8')) as StatusFile;
      } catch {
        s = undefined;
      }
      const running = s !== undefined && Date.now() - Date.parse(s.writtenAt) < 10000;
      if (o.json) return printJson({ running, ...(running ? s : { channels: [] }), ...(boxes ? { boxes } : {}) });
      if (boxes) {
        print(boxes.length ? `Boxes sharing the store (${boxes.filter((b) => b.alive).length} of ${boxes.length} answering):` : 'No box has joined the shared store yet.');
        if (boxes.length) {
          print(table(['box', 'state', 'budget used', 'classes', 'push to', 'url', 'last seen'], boxes.map((b) => [
            b.name, b.alive ? 'up' : 'not answering', `${mpx(b.used)} of ${mpx(b.budget)} (${Math.round((100 * b.used) / Math.max(1, b.budget))}%)`,
            b.classes.length ? b.classes.map((c) => `${c.channel} (${c.state})`).join(', ') : '-', b.rtmp, b.url, new Date(b.seenAt).toISOString(),
          ])));
        }
      }
      if (!running || !s) {
        if (boxes) return;
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
