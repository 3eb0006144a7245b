// The cost arithmetic on fixed usage with hand-computed answers, and the period and price checks.

import t from 'tap';
import { checkPrices, costReport, forChannel, parsePeriod, type ClassUsage, type Prices } from '../src/reports/cost.js';

const prices: Prices = {
  boxPerMonth: 100, classesPerMonth: 50, cdnPerGb: 0.1, muxEncodePerMinHd: 0.04, muxEncodePerMinSd: 0.03, muxDeliveryPerMin: 0.001,
  muxStoragePerMinMonth: 0.003, zoomPerHostPerMonth: 15, zoomLargeMeetingPerMonth: 50, zoomHosts: 2,
};
const DAY = 86_400_000;
const from = Date.parse('2026-11-01T00:00:00Z');
const to = from + 30.4375 * DAY; // exactly one month
const cls = (o: Partial<ClassUsage>): ClassUsage => ({
  sessionId: 's_0000000000000001', channel: 'bio', start: from + DAY, end: from + DAY + 60 * 60000, topHeight: 720, viewerMinutes: 1000,
  peakViewers: 20, bytesServed: 10e9, encodeCpuSeconds: 1800, overflow: false, archived: false, ...o,
});

t.test('a class on the box: its share of the box and its egress', async (t) => {
  const r = costReport([cls({})], prices, from, to);
  const c = r.classes[0]!;
  t.same(c.ours, { box: 2, egress: 1, muxOverflow: 0, muxArchive: 0, total: 3 }, '$100/50 classes + 10 GB × $0.10');
  t.equal(c.allMux, 2.97, '60 min × $0.03 + 1000 viewer-min × $0.001 + 60 min × $0.003 × 0.966 month stored (to the period end)');
});

t.test('the report says the egress price it assumed, the bytes per viewer-minute, and the class at $0 egress', async (t) => {
  const r = costReport([cls({}), cls({ sessionId: 's_2', viewerMinutes: 0, bytesServed: 0 })], prices, from, to);
  t.equal(r.egressPerGb, 0.1, 'cost.cdnPerGb');
  const [c, empty] = r.classes;
  t.equal(c!.mbPerViewerMinute, 10, '10 GB over 1000 viewer-minutes');
  t.equal(empty!.mbPerViewerMinute, null, 'no viewers: no figure');
  t.equal(c!.oursAtZeroEgress, 2, 'the box share alone');
  t.equal(r.totals.oursAtZeroEgress, 4);
  t.equal(r.totals.ours, 5);
  t.equal(r.totals.mbPerViewerMinute, 10);
  t.equal(r.totals.allMux, 4.94, '2.97 + (60 × 0.03 + 60 × 0.003 × 0.966) for the class nobody watched');
  t.equal(r.savingVsMuxPct, -1.2, '(4.94 − 5) / 4.94: dearer than all-Mux at $0.10/GB');
  t.equal(r.savingVsMuxAtZeroEgressPct, 19, '(4.94 − 4) / 4.94: cheaper at $0/GB, so the egress price decides the case');
  const bio = forChannel(r, 'bio');
  t.equal(bio.egressPerGb, 0.1);
  t.equal(bio.totals.oursAtZeroEgress, 4);
  t.equal(bio.savingVsMuxAtZeroEgressPct, 19);
});

t.test('all-Mux storage runs from the class end to the period end', async (t) => {
  const end = to; // ends at the period end: nothing stored
  const r = costReport([cls({ start: end - 60 * 60000, end })], prices, from, to);
  t.equal(r.classes[0]!.allMux, 2.8, '60 × 0.03 + 1000 × 0.001');
});

t.test('overflow to Mux, archive, HD tier; Zoom shared over the classes; savings', async (t) => {
  const a = cls({ sessionId: 's_a', overflow: true, topHeight: 1080, start: to - 2 * 3600000, end: to - 3600000 });
  const b = cls({ sessionId: 's_b', channel: 'art', archived: true, start: to - 3600000, end: to, peakViewers: 300 });
  const r = costReport([a, b], prices, from, to);
  const [ca, cb] = r.classes;
  t.equal(ca!.ours.muxOverflow, 3.4, '60 × 0.04 + 1000 × 0.001');
  t.equal(ca!.runsOn, 'mux');
  t.equal(cb!.ours.muxArchive, 1.8, 'the archive asset is encoded once (60 × 0.03); stored for no time');
  t.equal(r.totals.zoom, 130, '(15 + 50 large meeting, since a class had 300 viewers) × 2 hosts × 1 month');
  t.equal(ca!.zoom, 65);
  t.equal(r.totals.ours, Math.round((2 + 1 + 3.4 + 0 + 2 + 1 + 1.8) * 100) / 100);
  t.equal(r.savingVsZoomPct, Math.round(((130 - r.totals.ours) / 130) * 1000) / 10);
  t.ok(r.savingVsMuxPct !== null);
  const art = forChannel(r, 'art');
  t.equal(art.classes.length, 1);
  t.equal(art.totals.ours, 4.8);
  t.equal(art.totals.zoom, 65);
});

t.test('no classes, no savings to claim', async (t) => {
  const r = costReport([], prices, from, to);
  t.same(r.totals, { minutes: 0, viewerMinutes: 0, gbServed: 0, encodeCpuSeconds: 0, ours: 0, oursAtZeroEgress: 0, allMux: 0, zoom: 30, mbPerViewerMinute: null });
  t.equal(r.savingVsZoomPct, null);
  t.equal(r.savingVsMuxAtZeroEgressPct, null);
});

t.test('periods and prices are checked with clear messages', async (t) => {
  t.same(parsePeriod('2026-11-01', '2026-11-30'), { from, to: Date.parse('2026-12-01T00:00:00Z') });
  t.match(parsePeriod('2026-11-31', '2026-12-01'), /^from: "2026-11-31" is not a date/);
  t.match(parsePeriod('2026-11-01', 'yesterday'), /^to:/);
  t.match(parsePeriod('2026-11-02', '2026-11-01'), /ends before it starts/);
  t.match(parsePeriod(undefined, '2026-11-01'), /--from/);
  t.match(parsePeriod('2024-01-01', '2026-01-01'), /at most a year/);
  t.equal(checkPrices(prices), null);
  t.match(checkPrices({ ...prices, cdnPerGb: Number.NaN }), /^cost\.cdnPerGb is not set/);
  t.match(checkPrices({ ...prices, classesPerMonth: 0 }), /^cost\.classesPerMonth must be more than 0/);
});
