// `kmk-live class …`: schedule, list and cancel classes on a channel (LMS courses schedule them from the studio).

import type { Command } from 'commander';
import { ValidationError } from '../domain/errors.js';
import { parseSlug } from '../domain/channel.js';
import { parseClassInput } from '../classes/schedule.js';
import { classState, type ClassState } from '../classes/resolve.js';
import type { ScheduledClass } from '../domain/records.js';
import { contextFor } from './context.js';
import { print, printJson, table } from './output.js';

const row = (k: ScheduledClass & { state: ClassState }): (string | number)[] => [
  k.id, k.channel, k.title, new Date(k.startsAt).toISOString(), k.minutes, k.record ? 'on' : 'off', k.state, k.sessionId ?? '',
];
const HEAD = ['id', 'channel', 'title', 'starts', 'min', 'record', 'state', 'session'];

export function registerClass(program: Command): void {
  const group = program.command('class').description('scheduled classes: what learners see in the waiting room and what attendance is counted against');

  group.command('schedule <channel>')
    .description('schedule a class on a channel')
    .requiredOption('--title <title>', 'what the class is called')
    .requiredOption('--starts-at <time>', 'start, ISO 8601 with a zone (e.g. 2026-12-01T09:00:00Z)')
    .option('--minutes <n>', 'planned length in minutes (5-600)', '60')
    .option('--record <on|off>', 'record for replay (default: the channel\'s setting)')
    .option('--archive <on|off>', 'archive to Mux (default: the channel\'s setting)')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ kmk-live class schedule math-101 --title "Fractions" --starts-at 2026-12-01T09:00:00Z --minutes 45')
    .action(async (slug: string, o: { title: string; startsAt: string; minutes: string; record?: string; archive?: string; json?: boolean }, cmd: Command) => {
      const store = contextFor(cmd).store();
      const ch = (await store.channels.get(parseSlug(slug)));
      const parsed = parseClassInput({ title: o.title, startsAt: o.startsAt, minutes: o.minutes, record: o.record, archive: o.archive }, { record: ch.record, archive: ch.archive }, Date.now());
      if (typeof parsed === 'string') throw new ValidationError(parsed.replace(/^startsAt/, '--starts-at').replace(/^minutes/, '--minutes'));
      const course = (await store.classes.courses()).find((c) => c.channelId === ch.id);
      const k = (await store.classes.schedule({ courseId: course?.id ?? null, channelId: ch.id, ...parsed }));
      if (o.json) return printJson(k);
      print(`Class ${k.id} "${k.title}" scheduled on ${ch.slug} for ${new Date(k.startsAt).toISOString()} (${k.minutes} min).`);
    });

  group.command('list')
    .description('list scheduled classes')
    .option('--channel <slug>', 'only this channel')
    .option('--all', 'include cancelled classes')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ kmk-live class list --channel math-101')
    .action(async (o: { channel?: string; all?: boolean; json?: boolean }, cmd: Command) => {
      const store = contextFor(cmd).store();
      const channelId = o.channel ? (await store.channels.get(parseSlug(o.channel))).id : undefined;
      const now = Date.now();
      const open = new Set((await store.sessions.open()).map((s) => s.id));
      const list = (await store.classes.list({ channelId, includeCancelled: o.all }))
        .map((k) => ({ ...k, state: classState(k, now, (id) => open.has(id)) }));
      if (o.json) return printJson(list);
      if (list.length === 0) return print('No classes scheduled. Schedule one: kmk-live class schedule <channel> --title … --starts-at …');
      print(table(HEAD, list.map(row)));
    });

  group.command('cancel <id>')
    .description('cancel a scheduled class')
    .addHelpText('after', '\nExample:\n  $ kmk-live class cancel 12')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      if (!/^\d{1,9}$/.test(id)) throw new ValidationError(`class id must be a number (see: kmk-live class list), not ${JSON.stringify(id.slice(0, 40))}`);
      const k = (await contextFor(cmd).store().classes.cancel(Number(id)));
      print(`Class ${k.id} "${k.title}" cancelled.`);
    });
}
