// Where a class's media lives, on disk and in URLs, spelled out once. Live classes write under
// <media>/live/<channel>/, kept recordings move to <media>/vod/<session>/; the origin serves them as
// /hls/<channel>/… and /vod/<session>/…. Every rung has <rung>/index.m3u8 beside the one master.m3u8.

import { join } from 'node:path';

/** What the origin serves: a live channel's folder or a kept recording's. */
export type MediaKind = 'hls' | 'vod';

export const MASTER_PLAYLIST = 'master.m3u8';
export const RUNG_PLAYLIST = 'index.m3u8';

const FOLDER: Record<MediaKind, string> = { hls: 'live', vod: 'vod' };

/** The folder of one live channel or one kept recording. */
export function mediaFolder(mediaDir: string, kind: MediaKind, owner: string): string {
  return join(mediaDir, FOLDER[kind], owner);
}

export const liveDir = (mediaDir: string, slug: string): string => mediaFolder(mediaDir, 'hls', slug);
export const vodDir = (mediaDir: string, sessionId: string): string => mediaFolder(mediaDir, 'vod', sessionId);
export const vodRoot = (mediaDir: string): string => join(mediaDir, FOLDER.vod);

/** The master playlist URL (path only) of a live channel or a kept recording. */
export function masterUrl(kind: MediaKind, owner: string): string {
  return `/${kind}/${owner}/${MASTER_PLAYLIST}`;
}

export const liveUrl = (slug: string): string => masterUrl('hls', slug);
export const replayUrl = (sessionId: string): string => masterUrl('vod', sessionId);
