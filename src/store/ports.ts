// The store's contract: what any implementation (the embedded SQLite file today, a shared PostgreSQL next) gives
// the rest of the server. Types only. Consumers name the part they use (`Pick<ClassRepository, 'list' | …>`) so
// each module's needs can be read off its own file.
//
// Three kinds of member:
// - queries and writes the caller can wait for return promises (HTTP handlers, LTI, Mux jobs, the CLI, reports);
// - commands of the live path (a session's start, source, progress and end; engagement batches) are accepted at
//   once and written in order by the store's one writer, so admitting a publish never waits on a network;
// - the synchronous hot paths (RTMP admission, WebSocket upgrade, room lookup, playback access) read `ReadModel`,
//   an in-memory copy the store keeps current, also when another process (the CLI) writes.

import type { CaptionCue } from '../domain/captions.js';
import type { Channel } from '../domain/channel.js';
import type { ApiTokenInfo, Scope } from '../domain/api-tokens.js';
import type { ClassData } from '../domain/class-records.js';
import type { RoomInit } from '../domain/engagement.js';
import type { ClaimRow, NodeRow } from './sql/nodes.js';
import type {
  ArchiveJob, AttendanceRow, Beacon, ChannelPatch, Course, EngagementOp, LoginState, NewChannel, NewClass, NewPlatform,
  OutboxItem, Platform, RosterMember, ScheduledClass, SessionRecord, StreamKeyInfo, ToolKey, TrafficRow,
} from '../domain/records.js';

export interface ChannelRepository {
  create(c: NewChannel): Promise<Channel>;
  /** A channel and its first stream key, both or neither. The key's plaintext is returned once. */
  createWithKey(c: NewChannel): Promise<{ channel: Channel; key: string; info: StreamKeyInfo }>;
  find(slug: string): Promise<Channel | undefined>;
  /** Throws NotFoundError. */
  get(slug: string): Promise<Channel>;
  list(): Promise<Channel[]>;
  update(slug: string, patch: ChannelPatch): Promise<Channel>;
  delete(slug: string): Promise<void>;
  /** Ends every join token of the channel issued until now; the new epoch (seconds). */
  endJoinTokens(slug: string): Promise<number>;
}

export interface StreamKeyRepository {
  /** Revokes the active key and issues a new one; the plaintext is returned once. */
  rotate(channelId: number): Promise<{ key: string; info: StreamKeyInfo }>;
  revoke(channelId: number): Promise<boolean>;
  list(channelId: number): Promise<StreamKeyInfo[]>;
  /** Command: notes that the channel's active key was just used to publish. */
  markUsed(channelId: number): void;
}

export interface ApiTokenRepository {
  create(name: string, scopes: Scope[], channels?: string[] | null): Promise<{ token: string; info: ApiTokenInfo }>;
  list(includeRevoked?: boolean): Promise<ApiTokenInfo[]>;
  revoke(nameOrFingerprint: string): Promise<ApiTokenInfo>;
  /** The active token matching the plaintext, marking it used. */
  verify(token: string): Promise<ApiTokenInfo | undefined>;
}

export interface SessionSource { codec: string; width: number; height: number; fps: number; audioCodec: string }

export interface SessionRepository {
  /** Command: a class starts; its record (with a new id) at once. */
  start(channelId: number, recorded: boolean): SessionRecord;
  /** Command. */
  setSource(id: string, s: SessionSource, ladder: string[], topRung?: string | null): void;
  /** Command. */
  update(id: string, p: { bytesIn?: number; reconnects?: number; restarts?: number }): void;
  /** Command. */
  end(id: string, reason: string): void;
  open(): Promise<{ id: string; channel: string; recorded: boolean; startedAt: string }[]>;
  endInterrupted(id: string, at: Date, recorded: boolean): Promise<void>;
  endAllOpen(reason: string): Promise<number>;
  closedWhileAway(): Promise<{ id: string; channel: string }[]>;
  markRecovered(id: string, kept: boolean): Promise<void>;
  find(id: string): Promise<SessionRecord | undefined>;
  get(id: string): Promise<SessionRecord>;
  list(opts?: { channel?: string; limit?: number }): Promise<SessionRecord[]>;
  /** On a shared store: whether the start could claim the channel for this box — null when it did, else the box
   * that runs the class (its session was not written). Absent on the embedded file (one box). */
  claimed?(sessionId: string): Promise<string | null>;
}

export type { NodeRow, ClaimRow } from './sql/nodes.js';

export interface NodeRepository {
  beat(n: { name: string; url: string; rtmp: string; startedAt: number }, load: string, now: number, ms: number): Promise<void>;
  leave(name: string, now: number): Promise<void>;
  list(): Promise<NodeRow[]>;
  tryLease(name: string, holder: string, now: number, ms: number): Promise<boolean>;
  releaseLease(name: string, holder: string): Promise<void>;
  claimChannel(channelId: number, node: string, sessionId: string, now: number, ms: number): Promise<string | null>;
  renewClaims(node: string, sessionIds: readonly string[], now: number, ms: number): Promise<void>;
  claims(): Promise<ClaimRow[]>;
  openSessionsOf(node: string): Promise<{ id: string; channel: string; startedAt: string }[]>;
  endForDeadNode(sessionId: string, node: string, at: string): Promise<boolean>;
  sessionNode(sessionId: string): Promise<string | null>;
}

export interface ClassRepository {
  upsertLtiCourse(c: { platformId: number; deploymentId: string; contextId: string; title: string; nrpsUrl: string | null; agsLineItems: string | null; agsScopes: string[] }): Promise<Course>;
  createCourse(title: string, channelId: number): Promise<Course>;
  setCourseChannel(courseId: number, channelId: number): Promise<void>;
  findCourse(id: number): Promise<Course | undefined>;
  course(id: number): Promise<Course>;
  courses(): Promise<Course[]>;
  schedule(k: NewClass): Promise<ScheduledClass>;
  confirm(id: number): Promise<void>;
  dropUnconfirmed(now: number): Promise<number>;
  find(id: number): Promise<ScheduledClass | undefined>;
  get(id: number): Promise<ScheduledClass>;
  list(opts?: { channelId?: number; courseId?: number; includeCancelled?: boolean }): Promise<ScheduledClass[]>;
  cancel(id: number): Promise<ScheduledClass>;
  attachSession(id: number, sessionId: string): Promise<void>;
  bySession(sessionId: string): Promise<ScheduledClass | undefined>;
  setLineItem(id: number, url: string): Promise<void>;
  markPassback(id: number, at: number): Promise<void>;
  replaceRoster(courseId: number, members: readonly RosterMember[], at: number): Promise<void>;
  roster(courseId: number): Promise<RosterMember[]>;
}

export interface LtiRepository {
  addPlatform(p: NewPlatform): Promise<Platform>;
  addServiceHost(platformId: number, host: string): Promise<Platform>;
  addDeployment(platformId: number, deploymentId: string): Promise<void>;
  findPlatform(id: number): Promise<Platform | undefined>;
  platform(id: number): Promise<Platform>;
  platformsByIssuer(issuer: string): Promise<Platform[]>;
  platforms(): Promise<Platform[]>;
  removePlatform(id: number): Promise<void>;
  keys(): Promise<ToolKey[]>;
  addKey(key: Omit<ToolKey, 'retiredAt'>): Promise<void>;
  dropKeysRetiredBefore(at: number): Promise<number>;
  /** false when `max` logins are already pending. */
  saveLogin(l: LoginState, now?: number, max?: number): Promise<boolean>;
  takeLogin(state: string, now: number): Promise<LoginState | undefined>;
  courseLinkLineItems(courseId: number): Promise<string[]>;
  /** false when the nonce was seen before. */
  useNonce(nonce: string, expiresAt: number, now: number): Promise<boolean>;
  saveLink(platformId: number, resourceLinkId: string, courseId: number, lineItemUrl: string | null, classId?: number | null): Promise<void>;
  link(platformId: number, resourceLinkId: string): Promise<{ courseId: number; classId: number | null; lineItemUrl: string | null } | undefined>;
  enqueue(item: { key: string; kind: 'passback' | 'score'; classId: number; payload: string }, now: number): Promise<boolean>;
  due(now: number, limit: number): Promise<OutboxItem[]>;
  nextDueAt(): Promise<number | undefined>;
  done(id: number, now: number): Promise<void>;
  retry(id: number, error: string, nextAt: number, giveUp: boolean): Promise<void>;
  pendingCount(): Promise<number>;
  outbox(opts?: { all?: boolean }): Promise<OutboxItem[]>;
}

export interface MuxRepository {
  channelStream(slug: string): Promise<{ liveStreamId: string | null; playbackId: string | null }>;
  setChannelStream(slug: string, liveStreamId: string, playbackId: string | null): Promise<void>;
  setStreamStatus(liveStreamId: string, status: string, at: string): Promise<boolean>;
  channelByLiveStream(liveStreamId: string): Promise<string | undefined>;
  markOverflow(sessionId: string): Promise<void>;
  setSessionAsset(sessionId: string, assetId: string, playbackId: string | null): Promise<void>;
  sessionMux(sessionId: string): Promise<{ overflow: boolean; assetId: string | null; playbackId: string | null } | undefined>;
  overflowSessionOf(slug: string): Promise<string | undefined>;
  createJob(sessionId: string): Promise<ArchiveJob>;
  job(sessionId: string): Promise<ArchiveJob | undefined>;
  jobByUpload(uploadId: string): Promise<ArchiveJob | undefined>;
  jobByAsset(assetId: string): Promise<ArchiveJob | undefined>;
  unfinishedJobs(): Promise<ArchiveJob[]>;
  updateJob(sessionId: string, patch: Partial<Omit<ArchiveJob, 'sessionId'>>): Promise<void>;
  /** Takes the session's archive lease for `ms`; false when another holder has it. */
  lease(sessionId: string, ms: number): Promise<boolean>;
  /** true the first time a webhook event id is seen. */
  firstSeen(eventId: string, type: string): Promise<boolean>;
}

export interface EngagementRepository {
  /** A batch of the hub's records, all or none. */
  apply(ops: readonly EngagementOp[]): Promise<void>;
  /** What a room starts from (runs when a room opens: at once on the embedded file, over the network on PostgreSQL). */
  loadRoom(channelId: number, sessionId: string | null, historySize: number): RoomInit | Promise<RoomInit>;
  attendance(sessionId: string): Promise<AttendanceRow[]>;
  /** A session's caption lines in program-time order (`since`, epoch ms: those still on screen at or after it). */
  captions(sessionId: string, since?: number): Promise<CaptionCue[]>;
  /** Who was on a session's stage, each spell in order. */
  stageSpells(sessionId: string): Promise<{ userId: string; name: string; joinedAt: number; leftAt: number | null }[]>;
  closeOpenAttendance(at: number): Promise<void>;
}

export interface BeaconRepository {
  /** Command. */
  add(b: Beacon): void;
  prune(before: number): Promise<number>;
  playersSince(channelId: number, at: number): Promise<number>;
}

export interface ReportRepository {
  records(sessionId: string): Promise<Omit<ClassData, 'session' | 'now' | 'roster'>>;
  addTraffic(rows: readonly TrafficRow[]): Promise<void>;
  /** Command. */
  addEncodeCpu(sessionId: string, ms: number): void;
  sessionsBetween(from: number, to: number): Promise<{ id: string; channel: string; start: number; end: number; ladder: string[]; overflow: boolean; archived: boolean; encodeCpuMs: number }[]>;
  bytesServed(sessionId: string): Promise<number>;
}

/** The in-memory copy the synchronous hot paths read. Current with every committed write, from any process. */
export interface ReadModel {
  channel(slug: string): Channel | undefined;
  channelById(id: number): Channel | undefined;
  /** The channel an active stream key opens (compared by hash, in constant time), or undefined. */
  channelForKey(key: string): number | undefined;
  /** What Mux's webhooks last said of the channel's Mux live stream (active, idle, …); null before any. */
  muxStream(slug: string): { status: string; at: string } | null;
  /** Join tokens of the channel issued before this second are void; 0 when none were ended. */
  joinTokensAfter(slug: string): number;
  /** The scheduled classes of a channel, cancelled ones left out. */
  classesOf(channelId: number): ScheduledClass[];
  /** The channel a session (a recording) belongs to. */
  sessionChannel(sessionId: string): string | undefined;
  /** The registered LMS platforms (their origins go into the pages' frame-ancestors). */
  platforms(): Platform[];
  /** The session open on a channel (a class live, or one the server did not close), if any. */
  openSession(slug: string): string | undefined;
}

export interface Store {
  read: ReadModel;
  /** Resolves once the store is open, migrated and its read model loaded (at once on the embedded file). */
  ready(): Promise<void>;
  /** Whether the store answered its last look (a shared store can be out of reach while the box goes on). */
  health(): { ok: true } | { ok: false; error: string };
  channels: ChannelRepository;
  streamKeys: StreamKeyRepository;
  apiTokens: ApiTokenRepository;
  sessions: SessionRepository;
  engagement: EngagementRepository;
  beacons: BeaconRepository;
  mux: MuxRepository;
  lti: LtiRepository;
  classes: ClassRepository;
  reports: ReportRepository;
  nodes: NodeRepository;
  /** Applies pending schema migrations; the schema version after, and the ones applied now. */
  migrate(): Promise<{ version: number; applied: number[] }>;
  /** Writes an online, consistent copy of the store to `target` (the embedded file only). */
  backup(target: string): Promise<void>;
  close(): Promise<void>;
}
