// `kmk-live status` and `kmk-live session list|show`: what is live now, and the record of past classes.

import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ValidationError } from '../errors.js';
import { parseSlug } from '../live/channel-rules.js';
import type { LiveChannelView } from '../live/manager.js';
import { contextFor } from './context.js';
import { fields, print, printJson, table } from './output.js';
import { STATUS_FILE } from './serve.js';

interface StatusFile { writtenAt: string; pid: number; budget: number; used: number; channels: LiveChannelView[] }

const mpx = (n: number): string => `${(n / 1e6).toFixed(1)} Mpx/s`;

export function registerStatus(program: Command): void {
  program.command('status')
    .description('show the transcode budget, its use and every live channel (from the running server)')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ kmk-live status')
    .action((o: { json?: boolean }, cmd: Command) => {
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
      if (s.channels.length === 0) return print('No channel is live.');
      print(table(['channel', 'state', 'session', 'since', 'ladder', 'speed', 'restarts', 'notes'],
        s.channels.map((c) => [c.channel, c.state + (c.slow ? ' (slow)' : ''), c.sessionId, c.since, c.ladder.join(','),
          c.transcoder?.speed?.toFixed(2), c.transcoder?.restarts, c.notes.join('; ')])));
    });

  const group = program.command('session').description('past and current live classes');
  group.command('list')
    .description('list sessions, newest first')
    .option('--channel <slug>', 'only this channel')
    .option('--limit <n>', 'at most n sessions (1-1000)', '50')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ kmk-live session list --channel math-101 --limit 10')
    .action((o: { channel?: string; limit: string; json?: boolean }, cmd: Command) => {
      const limit = Number(o.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new ValidationError(`invalid --limit ${JSON.stringify(o.limit)}: expected an integer from 1 to 1000`);
      const list = contextFor(cmd).store().sessions.list({ channel: o.channel && parseSlug(o.channel), limit });
      if (o.json) return printJson(list);
      if (list.length === 0) return print('No sessions yet.');
      print(table(['id', 'channel', 'started', 'ended', 'source', 'ladder', 'reconnects', 'end reason'],
        list.map((s) => [s.id, s.channel, s.startedAt, s.endedAt, s.source.width ? `${s.source.width}x${s.source.height}@${s.source.fps}` : '',
          s.ladder.join(','), s.reconnects, s.endReason])));
    });
  group.command('show <id>')
    .description('show one session')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ kmk-live session show s_0123456789abcdef')
    .action((id: string, o: { json?: boolean }, cmd: Command) => {
      const s = contextFor(cmd).store().sessions.get(id);
      if (o.json) return printJson(s);
      print(fields([
        ['id', s.id], ['channel', s.channel], ['started', s.startedAt], ['ended', s.endedAt],
        ['source', s.source.width ? `${s.source.codec} ${s.source.width}x${s.source.height} @ ${s.source.fps} fps, audio ${s.source.audioCodec}` : ''],
        ['ladder', s.ladder.join(',')], ['bytes in', s.bytesIn], ['reconnects', s.reconnects], ['ffmpeg restarts', s.restarts],
        ['recorded', s.recorded ? 'yes' : 'no'], ['end reason', s.endReason],
        ['replay', s.recorded && s.endedAt ? `/vod/${s.id}/master.m3u8` : ''],
      ]));
    });
}
