// What a period of classes cost running self-hosted, against the same classes on all-Mux and on Zoom. Pure
// arithmetic over measured usage (minutes, viewer-minutes, bytes served, encode CPU, overflow, archive) and the
// prices from configuration; no price is written in this file.

import type { ClassCost, CostReport } from '../domain/reports.js';

export interface Prices {
  boxPerMonth: number;
  classesPerMonth: number;
  cdnPerGb: number;
  muxEncodePerMinHd: number;
  muxEncodePerMinSd: number;
  muxDeliveryPerMin: number;
  muxStoragePerMinMonth: number;
  zoomPerHostPerMonth: number;
  zoomLargeMeetingPerMonth: number;
  zoomHosts: number;
}

/** Config keys of each price, for errors that name the setting. */
export const PRICE_KEYS: Record<keyof Prices, string> = {
  boxPerMonth: 'cost.boxPerMonth', classesPerMonth: 'cost.classesPerMonth', cdnPerGb: 'cost.cdnPerGb',
  muxEncodePerMinHd: 'cost.muxEncodePerMinHd', muxEncodePerMinSd: 'cost.muxEncodePerMinSd', muxDeliveryPerMin: 'cost.muxDeliveryPerMin',
  muxStoragePerMinMonth: 'cost.muxStoragePerMinMonth', zoomPerHostPerMonth: 'cost.zoomPerHostPerMonth',
  zoomLargeMeetingPerMonth: 'cost.zoomLargeMeetingPerMonth', zoomHosts: 'cost.zoomHosts',
};

export interface ClassUsage {
  sessionId: string;
  channel: string;
  start: number;
  end: number;
  /** Tallest rung encoded (lines); Mux prices 1080p and above higher than 720p and below. */
  topHeight: number;
  /** Audience minutes (learners connected, devices merged). */
  viewerMinutes: number;
  peakViewers: number;
  bytesServed: number;
  encodeCpuSeconds: number;
  /** Relayed to Mux because the box was full. */
  overflow: boolean;
  /** Kept on Mux as an archive asset. */
  archived: boolean;
}

const money = (n: number): number => Math.round(n * 100) / 100;
const DAY = 86_400_000;
const MONTH_DAYS = 30.4375;

/** The first price that cannot be used, as a message naming its setting; null when all can. */
export function checkPrices(p: Prices): string | null {
  for (const [k, key] of Object.entries(PRICE_KEYS) as [keyof Prices, string][]) {
    const v = p[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) return `${key} is not set to a price (a number ≥ 0); see docs/cost.md`;
  }
  if (p.classesPerMonth <= 0) return `${PRICE_KEYS.classesPerMonth} must be more than 0: how many classes the box carries a month`;
  if (p.zoomHosts <= 0) return `${PRICE_KEYS.zoomHosts} must be at least 1: the Zoom host licences the school would need`;
  return null;
}

export function costReport(usage: readonly ClassUsage[], p: Prices, from: number, to: number): CostReport {
  const months = (to - from) / DAY / MONTH_DAYS;
  const encodePerMin = (u: ClassUsage): number => (u.topHeight >= 1080 ? p.muxEncodePerMinHd : p.muxEncodePerMinSd);
  // Zoom is a licence per host per month, whatever is streamed: shared evenly over the period's classes.
  const zoomLargeNeeded = usage.some((u) => u.peakViewers > 100);
  const zoomPeriod = (p.zoomPerHostPerMonth + (zoomLargeNeeded ? p.zoomLargeMeetingPerMonth : 0)) * p.zoomHosts * months;
  const zoomPerClass = usage.length ? zoomPeriod / usage.length : 0;
  const classes = usage.map((u): ClassCost => {
    const minutes = Math.max(0, u.end - u.start) / 60000;
    // Archives are stored from the class's end to the end of the period.
    const storedMonths = Math.max(0, to - u.end) / DAY / MONTH_DAYS;
    const box = p.boxPerMonth / p.classesPerMonth;
    const egress = (u.bytesServed / 1e9) * p.cdnPerGb;
    const muxOverflow = u.overflow ? minutes * encodePerMin(u) + u.viewerMinutes * p.muxDeliveryPerMin : 0;
    const muxArchive = u.archived ? (u.overflow ? 0 : minutes * encodePerMin(u)) + minutes * p.muxStoragePerMinMonth * storedMonths : 0;
    const allMux = minutes * encodePerMin(u) + u.viewerMinutes * p.muxDeliveryPerMin + minutes * p.muxStoragePerMinMonth * storedMonths;
    const total = box + egress + muxOverflow + muxArchive;
    return {
      sessionId: u.sessionId, channel: u.channel, date: new Date(u.start).toISOString(), minutes: Math.round(minutes * 10) / 10,
      viewerMinutes: Math.round(u.viewerMinutes * 10) / 10, peakViewers: u.peakViewers, gbServed: Math.round((u.bytesServed / 1e9) * 1000) / 1000,
      encodeCpuSeconds: Math.round(u.encodeCpuSeconds), runsOn: u.overflow ? 'mux' : 'box',
      ours: { box: money(box), egress: money(egress), muxOverflow: money(muxOverflow), muxArchive: money(muxArchive), total: money(total) },
      oursAtZeroEgress: money(total - egress), mbPerViewerMinute: perViewerMinute(u.bytesServed, u.viewerMinutes),
      allMux: money(allMux), zoom: money(zoomPerClass),
    };
  });
  return summed(from, to, months, p.cdnPerGb, classes, zoomPeriod);
}

/** Megabytes delivered per viewer-minute, to two decimals; null without viewers. Pure. */
export function perViewerMinute(bytes: number, viewerMinutes: number): number | null {
  return viewerMinutes > 0 ? Math.round((bytes / 1e6 / viewerMinutes) * 100) / 100 : null;
}

/** The totals and savings of some classes; `zoom` is the Zoom licence they bear. */
function summed(from: number, to: number, months: number, egressPerGb: number, classes: ClassCost[], zoomTotal: number): CostReport {
  const sum = (f: (c: ClassCost) => number): number => classes.reduce((s, c) => s + f(c), 0);
  const ours = money(sum((c) => c.ours.total));
  const oursAtZeroEgress = money(sum((c) => c.oursAtZeroEgress));
  const allMux = money(sum((c) => c.allMux));
  const zoom = money(zoomTotal);
  const saving = (mine: number, alt: number): number | null => (classes.length && alt > 0 ? Math.round(((alt - mine) / alt) * 1000) / 10 : null);
  const viewerMinutes = sum((c) => c.viewerMinutes);
  const gbServed = sum((c) => c.gbServed);
  return {
    from: new Date(from).toISOString().slice(0, 10), to: new Date(to - DAY).toISOString().slice(0, 10), months: Math.round(months * 100) / 100,
    egressPerGb, classes,
    totals: {
      minutes: Math.round(sum((c) => c.minutes) * 10) / 10, viewerMinutes: Math.round(viewerMinutes * 10) / 10,
      gbServed: Math.round(gbServed * 1000) / 1000, encodeCpuSeconds: sum((c) => c.encodeCpuSeconds), ours, oursAtZeroEgress, allMux, zoom,
      mbPerViewerMinute: perViewerMinute(gbServed * 1e9, viewerMinutes),
    },
    savingVsMuxPct: saving(ours, allMux),
    savingVsZoomPct: saving(ours, zoom),
    savingVsMuxAtZeroEgressPct: saving(oursAtZeroEgress, allMux),
  };
}

/** One channel's classes of a report, with their totals; each keeps its share of the Zoom licence. */
export function forChannel(r: CostReport, channel: string): CostReport {
  const classes = r.classes.filter((c) => c.channel === channel);
  const from = Date.parse(`${r.from}T00:00:00Z`);
  const to = Date.parse(`${r.to}T00:00:00Z`) + DAY;
  return summed(from, to, r.months, r.egressPerGb, classes, classes.reduce((s, c) => s + c.zoom, 0));
}

/** "2026-11-01" → epoch ms at 00:00 UTC; undefined when not a real date. */
export function parseDay(s: string): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) return undefined;
  const t = Date.parse(`${s}T00:00:00Z`);
  return Number.isFinite(t) && new Date(t).toISOString().slice(0, 10) === s ? t : undefined;
}

/** --from/--to (inclusive days) → [from, to + 1 day), or a message saying what is wrong. */
export function parsePeriod(from: string | undefined, to: string | undefined): { from: number; to: number } | string {
  if (!from || !to) return 'give the period as --from YYYY-MM-DD --to YYYY-MM-DD (both days included)';
  const a = parseDay(from);
  const b = parseDay(to);
  if (a === undefined) return `from: ${JSON.stringify(from.slice(0, 20))} is not a date (YYYY-MM-DD)`;
  if (b === undefined) return `to: ${JSON.stringify(to.slice(0, 20))} is not a date (YYYY-MM-DD)`;
  if (b < a) return 'to: the period ends before it starts';
  if (b - a > 366 * DAY) return 'the period may be at most a year';
  return { from: a, to: b + DAY };
}
