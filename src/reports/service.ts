// Gathers one class's records from the store and runs the pure report over them; the CSV tables of a report.
// The only place reports meet the store, so HTTP, CLI and the studio all show the same numbers.

import type { ClassRepository, EngagementRepository, ReportRepository, SessionRepository } from '../store/ports.js';
import { classReport } from './class-report.js';
import type { ClassReport, CostReport } from '../domain/reports.js';
import { ingestName } from '../domain/records.js';
import { toCsv, type CsvCell } from './csv.js';
import { checkPrices, costReport, forChannel, type ClassUsage, type Prices } from './cost.js';

export interface ReportStore {
  sessions: Pick<SessionRepository, 'find'>;
  classes: Pick<ClassRepository, 'bySession' | 'roster' | 'list'>;
  reports: Pick<ReportRepository, 'records' | 'sessionsBetween' | 'bytesServed'>;
  /** The session's caption lines (absent: the report says nothing of captions). */
  engagement?: Pick<EngagementRepository, 'captions' | 'stageSpells'>;
}

/** undefined when there is no such session. A live session gives a partial report (report.session.partial). */
export async function sessionReport(store: ReportStore, sessionId: string, now: number): Promise<ClassReport | undefined> {
  const s = await store.sessions.find(sessionId);
  if (!s) return undefined;
  const cls = await store.classes.bySession(sessionId);
  const roster = cls?.courseId ? (await store.classes.roster(cls.courseId)).filter((m) => m.role === 'learner' && m.active).map((m) => ({ userId: m.userId, name: m.name })) : [];
  const report = classReport({
    session: { id: s.id, channel: s.channel, startedAt: Date.parse(s.startedAt), endedAt: s.endedAt ? Date.parse(s.endedAt) : null },
    now, roster, ...(await store.reports.records(sessionId)),
  });
  const lines = (await store.engagement?.captions(sessionId)) ?? [];
  const spells = (await store.engagement?.stageSpells(sessionId)) ?? [];
  // How the class was delivered: its top rung passed through or encoded, and why (transcode/top-rung.ts).
  return {
    ...report, session: { ...report.session, topRung: s.topRung, ...(s.source.ingest ? { source: ingestName(s.source.ingest) } : {}) },
    ...(lines.length ? { captions: captionSummary(lines) } : {}),
    ...(spells.length ? { stage: stageSummary(spells, s.endedAt ? Date.parse(s.endedAt) : now) } : {}),
  };
}

/** Who was on stage, in the order they first came up, with their minutes (a spell still open ends at `end`). Pure. */
export function stageSummary(spells: readonly { userId: string; name: string; joinedAt: number; leftAt: number | null }[], end: number): NonNullable<ClassReport['stage']> {
  const by = new Map<string, { userId: string; name: string; ms: number; spells: number }>();
  for (const s of spells) {
    const row = by.get(s.userId) ?? { userId: s.userId, name: s.name, ms: 0, spells: 0 };
    row.ms += Math.max(0, (s.leftAt ?? end) - s.joinedAt);
    row.spells += 1;
    by.set(s.userId, row);
  }
  return [...by.values()].map((r) => ({ userId: r.userId, name: r.name, seconds: Math.round(r.ms / 1000), minutes: Math.round(r.ms / 6000) / 10, spells: r.spells }));
}

/** How a class was captioned: lines per language, typed or heard, and the transcript's path. Pure. */
export function captionSummary(lines: readonly { lang: string; by: string }[]): NonNullable<ClassReport['captions']> {
  // The most used language first (ties alphabetical): the class's main one leads whatever line came first.
  const count = new Map<string, number>();
  for (const l of lines) count.set(l.lang, (count.get(l.lang) ?? 0) + 1);
  const languages = [...count.keys()].sort((a, b) => count.get(b)! - count.get(a)! || a.localeCompare(b));
  return {
    lines: lines.length, languages, fromSpeech: lines.filter((l) => l.by === 'speech').length,
    typed: lines.filter((l) => l.by !== 'speech').length, captioners: new Set(lines.filter((l) => l.by !== 'speech').map((l) => l.by)).size,
  };
}

export const REPORT_TABLES = ['learners', 'polls', 'timeline', 'renditions'] as const;
export type ReportTable = (typeof REPORT_TABLES)[number];

export function reportCsv(r: ClassReport, table: ReportTable): string {
  switch (table) {
    case 'learners':
      return toCsv(
        ['name', 'user id', 'on roster', 'first join', 'last leave', 'minutes', 'share %', 'late', 'left early', 'never came', 'chat', 'questions',
          'upvotes', 'poll answers', 'reactions', 'hands', 'startup ms', 'rebuffer %', 'rebuffers', 'watch minutes', 'playback errors', 'exited before start', 'bad experience'],
        r.learners.map((l): CsvCell[] => [l.name, l.userId, l.rostered, l.firstJoin, l.lastLeave, l.minutes, l.sharePct, l.late, l.leftEarly, l.neverCame, l.chat,
          l.questions, l.upvotes, l.pollAnswers, l.reactions, l.hands, l.startupMs, l.rebufferPct, l.rebuffers, l.watchMinutes, l.playbackErrors, l.exitedBeforeStart, l.badExperience]));
    case 'polls':
      return toCsv(['poll', 'option', 'votes', 'share %', 'closed'], r.polls.flatMap((p) => p.options.map((o): CsvCell[] => [p.question, o.text, o.votes, o.pct, p.closed])));
    case 'timeline':
      return toCsv(['time', 'viewers'], r.timeline.map((x): CsvCell[] => [x.at, x.viewers]));
    case 'renditions':
      return toCsv(['rendition', 'watch minutes', 'share %'], r.renditions.map((x): CsvCell[] => [x.rendition, x.minutes, x.sharePct]));
  }
}

/** A course's attendance across its classes: one row per learner, one column of minutes per class. */
export async function courseAttendanceCsv(store: ReportStore, courseId: number, now: number): Promise<string> {
  const classes = (await store.classes.list({ courseId })).filter((k) => k.sessionId);
  const reports: { r: ClassReport | undefined }[] = [];
  for (const k of classes) reports.push({ r: await sessionReport(store, k.sessionId!, now) });
  const people = new Map<string, string>();
  for (const m of await store.classes.roster(courseId)) if (m.role === 'learner') people.set(m.userId, m.name);
  for (const { r } of reports) for (const l of r?.learners ?? []) if (!people.has(l.userId)) people.set(l.userId, l.name);
  const headers = ['name', 'user id', ...classes.map((k) => `${k.title} (${new Date(k.startsAt).toISOString().slice(0, 10)}) minutes`), 'classes attended'];
  const rows = [...people.entries()].sort((a, b) => a[1].localeCompare(b[1])).map(([id, name]): CsvCell[] => {
    const mins = reports.map(({ r }) => r?.learners.find((l) => l.userId === id)?.minutes ?? 0);
    return [name, id, ...mins, mins.filter((m) => m > 0).length];
  });
  return toCsv(headers, rows);
}

/** The cost report of the classes that started in [from, to). */
export async function periodCost(store: ReportStore, prices: Prices, from: number, to: number, now: number): Promise<CostReport> {
  const usage: ClassUsage[] = [];
  for (const s of await store.reports.sessionsBetween(from, to)) {
    const r = await sessionReport(store, s.id, now);
    usage.push({
      sessionId: s.id, channel: s.channel, start: s.start, end: s.end,
      topHeight: Math.max(0, ...s.ladder.map((x) => parseInt(x, 10)).filter(Number.isFinite)),
      viewerMinutes: r?.summary.audienceMinutes ?? 0, peakViewers: r?.summary.peakViewers ?? 0,
      bytesServed: await store.reports.bytesServed(s.id), encodeCpuSeconds: s.encodeCpuMs / 1000, overflow: s.overflow, archived: s.archived,
    });
  }
  return costReport(usage, prices, from, to);
}

export function costCsv(r: CostReport): string {
  return toCsv(['date', 'channel', 'session', 'minutes', 'viewer minutes', 'peak viewers', 'GB served', 'encode CPU s', 'runs on',
    'box share $', 'egress $', 'Mux overflow $', 'Mux archive $', 'self-hosted $', 'all-Mux $', 'Zoom $',
    'MB per viewer-minute', 'egress $ per GB assumed', 'self-hosted at $0 egress $'],
  r.classes.map((c): CsvCell[] => [c.date, c.channel, c.sessionId, c.minutes, c.viewerMinutes, c.peakViewers, c.gbServed, c.encodeCpuSeconds, c.runsOn,
    c.ours.box, c.ours.egress, c.ours.muxOverflow, c.ours.muxArchive, c.ours.total, c.allMux, c.zoom,
    c.mbPerViewerMinute, r.egressPerGb, c.oursAtZeroEgress]));
}

/** The cost of a period (one channel's share when asked), or what is wrong with the configured prices. */
export async function costFor(store: ReportStore, prices: Prices, from: number, to: number, channel: string | undefined, now: number): Promise<CostReport | string> {
  const bad = checkPrices(prices);
  if (bad) return bad;
  const all = await periodCost(store, prices, from, to, now);
  return channel ? forChannel(all, channel) : all;
}
