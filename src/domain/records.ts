// The records the store keeps and its consumers read: channels, classes, sessions, LTI registrations, archive jobs,
// engagement operations, beacons. Types only, independent of any database (a second store implements the same).

import type { Channel } from './channel.js';
import type { PersistOp } from './engagement.js';
import type { Role } from './roles.js';
import type { BeaconQoe } from './wire.js';

/** One stored beacon: the player's numbers (the wire shape) and whose they are, when. */
export interface Beacon extends BeaconQoe {
  channelId: number;
  sessionId: string | null;
  userId: string;
  at: number;
}

/** What a new channel is made from: the channel's own fields, the optional ones with their defaults. */
export type NewChannel = Pick<Channel, 'slug' | 'title' | 'ladder' | 'latency' | 'record' | 'archive' | 'overflow'>
  & Partial<Pick<Channel, 'allowGuests' | 'startsAt' | 'public' | 'profile' | 'captions' | 'captionLanguages'>>;

export type ChannelPatch = Partial<Omit<NewChannel, 'slug'>>;

export interface Course {
  id: number;
  platformId: number | null;
  deploymentId: string | null;
  contextId: string | null;
  title: string;
  channelId: number | null;
  nrpsUrl: string | null;
  agsLineItems: string | null;
  agsScopes: string[];
}

export interface ScheduledClass {
  id: number;
  courseId: number | null;
  channelId: number;
  channel: string;
  title: string;
  /** Epoch ms. */
  startsAt: number;
  minutes: number;
  record: boolean;
  archive: boolean;
  status: 'scheduled' | 'cancelled';
  sessionId: string | null;
  lineItemUrl: string | null;
  passbackAt: number | null;
  /** False until the LMS's launch names a deep-linked class (or it goes live); unconfirmed ones expire. */
  confirmed: boolean;
}

export interface NewClass {
  courseId: number | null;
  channelId: number;
  title: string;
  startsAt: number;
  minutes: number;
  record: boolean;
  archive: boolean;
  /** False for a class made by deep linking: it is confirmed when a launch names it or it goes live. */
  confirmed?: boolean;
}

export interface RosterMember {
  userId: string;
  ltiSub: string;
  name: string;
  email: string | null;
  role: string;
  active: boolean;
}

export type AttendanceOp =
  | { op: 'attend'; key: string; userId: string; name: string; role: Role; sessionId: string | null; at: number }
  | { op: 'leave'; key: string; at: number }
  /** A new hub owner took the room: intervals a previous owner left open end here. */
  | { op: 'close_open'; at: number };

export type EngagementOp = (PersistOp | AttendanceOp) & { channelId: number };

export interface AttendanceRow {
  userId: string;
  name: string;
  role: string;
  sessionId: string | null;
  joinedAt: number;
  leftAt: number | null;
}

export interface Platform {
  id: number;
  issuer: string;
  clientId: string;
  authUrl: string;
  tokenUrl: string;
  jwksUrl: string;
  deploymentIds: string[];
  /** Hosts the platform's services (NRPS, AGS) may live on besides its registration's own (Blackboard: the school's Learn host). */
  serviceHosts: string[];
  createdAt: string;
}

export type NewPlatform = Omit<Platform, 'id' | 'createdAt' | 'serviceHosts'> & { serviceHosts?: string[] };

export interface ToolKey {
  kid: string;
  privateJwk: string;
  publicJwk: string;
  createdAt: number;
  retiredAt: number | null;
}

export interface LoginState {
  state: string;
  nonce: string;
  platformId: number;
  storageTarget: string | null;
  expiresAt: number;
  /** The secret the browser that started the login must show at launch (its cookie or platform storage). */
  binding: string;
}

export interface OutboxItem {
  id: number;
  key: string;
  kind: 'passback' | 'score';
  classId: number;
  payload: string;
  status: 'pending' | 'done' | 'failed';
  attempts: number;
  nextAt: number;
  lastError: string | null;
  createdAt: number;
  doneAt: number | null;
}

export type ArchiveStatus = 'pending' | 'remuxing' | 'uploading' | 'processing' | 'ready' | 'errored';

export interface ArchiveJob {
  sessionId: string;
  status: ArchiveStatus;
  file: string | null;
  size: number | null;
  sha256: string | null;
  uploadId: string | null;
  uploadUrl: string | null;
  bytesSent: number;
  assetId: string | null;
  playbackId: string | null;
  attempts: number;
  error: string | null;
  leaseUntil: number;
}

export interface TrafficRow {
  sessionId: string;
  kind: 'live' | 'replay';
  rendition: string;
  bytes: number;
  requests: number;
}

export interface SessionRecord {
  id: string;
  channel: string;
  startedAt: string;
  endedAt: string | null;
  /** ingest: rtmp, or whip (a browser or OBS over WebRTC); null before the source is known. */
  source: { codec: string | null; width: number | null; height: number | null; fps: number | null; audioCodec: string | null; ingest: string | null };
  ladder: string[];
  /** Whether the top rung was passed through or encoded, and the arithmetic (transcode/top-rung.ts); null when not decided. */
  topRung: string | null;
  bytesIn: number;
  reconnects: number;
  restarts: number;
  recorded: boolean;
  endReason: string | null;
}

export interface StreamKeyInfo {
  fingerprint: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
  active: boolean;
}

/** A session's way in, in words for people (reports, the CLI). */
export function ingestName(ingest: string | null): string {
  return ingest === 'whip' ? 'browser (WHIP)' : ingest === 'rtmp' ? 'RTMP' : '';
}
