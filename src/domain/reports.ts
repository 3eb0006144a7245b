// The shapes of the studio's REST answers (channel health, class report, cost report), shared by the server that builds them (reports/) and the studio pages that
// show them (web/reports.ts, web/studio.ts): types only, compiled by both tsconfigs.

export interface LearnerRow {
  userId: string;
  name: string;
  rostered: boolean;
  firstJoin: string | null;
  lastLeave: string | null;
  minutes: number;
  /** Of the class, 0-100. */
  sharePct: number;
  late: boolean;
  leftEarly: boolean;
  neverCame: boolean;
  chat: number;
  questions: number;
  upvotes: number;
  pollAnswers: number;
  reactions: number;
  hands: number;
  activity: number;
  startupMs: number | null;
  rebufferPct: number | null;
  rebuffers: number;
  watchMinutes: number;
  playbackErrors: number;
  exitedBeforeStart: boolean;
  badExperience: boolean;
}

export interface ClassReport {
  /** source: the way in, in words ("RTMP", "browser (WHIP)"). */
  session: { id: string; channel: string; start: string; end: string | null; minutes: number; partial: boolean; topRung?: string | null; source?: string };
  summary: {
    rostered: number; attended: number; neverCame: number; late: number; leftEarly: number;
    peakViewers: number; averageViewers: number;
    /** Minutes of audience connection, a learner's devices merged (viewer-minutes). */
    audienceMinutes: number;
    chat: number; questions: number; upvotes: number; pollAnswers: number; reactions: number; hands: number;
    medianStartupMs: number | null; rebufferPct: number | null; playbackErrors: number; exitsBeforeStart: number; badExperience: number;
  };
  timeline: { at: string; viewers: number }[];
  learners: LearnerRow[];
  polls: { id: string; question: string; closed: boolean; total: number; options: { text: string; votes: number; pct: number }[] }[];
  renditions: { rendition: string; minutes: number; sharePct: number }[];
  startup: { bucket: string; count: number }[];
  mostActive: string[];
  silent: string[];
  /** When the class had captions: its lines (typed by captioners, or heard by the speech engine) and languages;
   * the transcript is at /vod/<session>/captions-<lang>/transcript.vtt (and .txt) while the recording is kept. */
  captions?: { lines: number; languages: string[]; typed: number; fromSpeech: number; captioners: number };
  /** Who was on the stage and for how long (summed over their spells), when anyone was. */
  stage?: { userId: string; name: string; seconds: number; minutes: number; spells: number }[];
}

export interface ClassCost {
  sessionId: string;
  channel: string;
  date: string;
  minutes: number;
  viewerMinutes: number;
  peakViewers: number;
  gbServed: number;
  encodeCpuSeconds: number;
  runsOn: 'box' | 'mux';
  ours: { box: number; egress: number; muxOverflow: number; muxArchive: number; total: number };
  /** The same class if its egress cost nothing (the box's own bandwidth, in cost.boxPerMonth). */
  oursAtZeroEgress: number;
  /** Megabytes delivered per viewer-minute (null without viewers). */
  mbPerViewerMinute: number | null;
  allMux: number;
  zoom: number;
}

export interface CostReport {
  from: string;
  to: string;
  months: number;
  /** The egress price the report assumed (cost.cdnPerGb), USD per GB. */
  egressPerGb: number;
  classes: ClassCost[];
  totals: {
    minutes: number; viewerMinutes: number; gbServed: number; encodeCpuSeconds: number; ours: number; oursAtZeroEgress: number; allMux: number; zoom: number;
    mbPerViewerMinute: number | null;
  };
  savingVsMuxPct: number | null;
  savingVsZoomPct: number | null;
  /** The saving against all-Mux when egress costs nothing: what decides the case is the egress price. */
  savingVsMuxAtZeroEgressPct: number | null;
}

/** `GET /api/channels/<slug>/health`: the studio's health card. */
export interface ChannelHealth {
  state: string;
  sessionId: string | null;
  since: string | null;
  ingest: { kbps: number; fps: number; width: number; height: number } | null;
  ladder: string[];
  speed: number | null;
  slow: boolean;
  restarts: number;
  crashLoop: boolean;
  lastError: string | null;
  reconnects: number;
  notes: string[];
  viewers: number;
  obsServer: string;
  disk: { low: boolean; message: string | null };
}
