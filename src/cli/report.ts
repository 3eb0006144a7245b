// `kmk-live report …`: what a period of classes cost against all-Mux and Zoom; a course's attendance roll-up.

import type { Command } from 'commander';
import { ValidationError, ConfigError } from '../domain/errors.js';
import { checkPrices, parsePeriod } from '../reports/cost.js';
import { pricesFrom } from '../reports/prices.js';
import { costCsv, courseAttendanceCsv, periodCost } from '../reports/service.js';
import { contextFor } from './context.js';
import { fields, print, printJson, table } from './output.js';

const usd = (n: number): string => `$${n.toFixed(2)}`;

export function registerReport(program: Command): void {
  const group = program.command('report').description('reports across classes: cost of a period, a course\'s attendance');

  group.command('cost')
    .description('what the period\'s classes cost self-hosted, against all-Mux and Zoom (prices: cost.* settings)')
    .requiredOption('--from <day>', 'first day, YYYY-MM-DD')
    .requiredOption('--to <day>', 'last day (included), YYYY-MM-DD')
    .option('--csv', 'print the per-class table as CSV')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ kmk-live report cost --from 2026-11-01 --to 2026-11-30')
    .action(async (o: { from: string; to: string; csv?: boolean; json?: boolean }, cmd: Command) => {
      const ctx = contextFor(cmd);
      const period = parsePeriod(o.from, o.to);
      if (typeof period === 'string') throw new ValidationError(period.replace(/^from:/, '--from:').replace(/^to:/, '--to:'));
      const prices = pricesFrom(ctx.config);
      const bad = checkPrices(prices);
      if (bad) throw new ConfigError(bad);
      const r = (await periodCost(ctx.store(), prices, period.from, period.to, Date.now()));
      if (o.json) return printJson(r);
      if (o.csv) {
        process.stdout.write(costCsv(r));
        return;
      }
      if (r.classes.length === 0) return print(`No classes ended between ${r.from} and ${r.to}.`);
      const egress = `$${r.egressPerGb}/GB`;
      const pct = (n: number | null): string => (n === null ? '-' : `${n}%`);
      print(table(['date', 'channel', 'min', 'viewer-min', 'GB', 'MB/viewer-min', 'CPU s', 'on', `self-hosted @${egress}`, 'self-hosted @$0/GB', 'all-Mux', 'Zoom'],
        r.classes.map((c) => [
          c.date.slice(0, 16).replace('T', ' '), c.channel, c.minutes, c.viewerMinutes, c.gbServed, c.mbPerViewerMinute ?? '-', c.encodeCpuSeconds, c.runsOn,
          usd(c.ours.total), usd(c.oursAtZeroEgress), usd(c.allMux), usd(c.zoom)])));
      print('');
      print(fields([
        ['period', `${r.from} to ${r.to} (${r.months} months), ${r.classes.length} ${r.classes.length === 1 ? 'class' : 'classes'}, ${r.totals.minutes} min, ${r.totals.viewerMinutes} viewer-minutes`],
        ['egress price assumed', `${egress} (cost.cdnPerGb); delivered ${r.totals.gbServed} GB, ${r.totals.mbPerViewerMinute ?? '-'} MB per viewer-minute`],
        ['self-hosted', `${usd(r.totals.ours)} at ${egress}; ${usd(r.totals.oursAtZeroEgress)} at $0/GB (the box's own bandwidth)`],
        ['all-Mux', usd(r.totals.allMux)], ['Zoom', usd(r.totals.zoom)],
        ['saving vs all-Mux', `${pct(r.savingVsMuxPct)} at ${egress}; ${pct(r.savingVsMuxAtZeroEgressPct)} at $0/GB`],
        ['saving vs Zoom', pct(r.savingVsZoomPct)],
      ]));
    });

  group.command('course <courseId>')
    .description('a course\'s attendance across its classes, as CSV (one row per learner, minutes per class)')
    .addHelpText('after', '\nExample:\n  $ kmk-live report course 3 > biology-attendance.csv')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      if (!/^\d{1,9}$/.test(id)) throw new ValidationError(`course id must be a number (see: kmk-live lti courses), not ${JSON.stringify(id.slice(0, 40))}`);
      const store = contextFor(cmd).store();
      await store.classes.course(Number(id));
      process.stdout.write((await courseAttendanceCsv(store, Number(id), Date.now())));
    });
}
