// A bounded FLV feed into a writable (ffmpeg's stdin). node-media-server pushes with no backpressure, so when
// the reader stalls this pipe drops media (counted) instead of buffering without limit, and resumes cleanly
// at the next video keyframe so the decoder never sees a half GOP.

import type { Writable } from 'node:stream';
import { isEssential, type MediaSink, type MediaUnit, type UnitKind } from './sink.js';

/** Classifies one FLV buffer as produced by node-media-server (file header, or one tag + previous-tag-size). */
export function classifyTag(buf: Buffer): UnitKind {
  if (buf.length >= 3 && buf[0] === 0x46 && buf[1] === 0x4c && buf[2] === 0x56) return 'header';
  if (buf.length < 13) return 'unknown';
  const type = buf[0];
  if (type === 18) return 'script';
  if (type === 9) {
    const frameType = (buf[11]! >> 4) & 0x0f;
    const codec = buf[11]! & 0x0f;
    if (codec === 7 && buf[12] === 0) return 'video-config';
    return frameType === 1 ? 'video-key' : 'video';
  }
  if (type === 8) {
    const format = (buf[11]! >> 4) & 0x0f;
    if (format === 10 && buf[12] === 0) return 'audio-config';
    return 'audio';
  }
  return 'unknown';
}

/** The timestamp of an FLV tag (ms, with its extension byte). */
export function flvTimestamp(buf: Buffer): number {
  return ((buf[7]! << 24) | (buf[4]! << 16) | (buf[5]! << 8) | buf[6]!) >>> 0;
}

/** One FLV buffer of the RTMP ingest as a media unit. */
export function flvUnit(buf: Buffer): MediaUnit {
  const kind = classifyTag(buf);
  const unit: MediaUnit = { format: 'flv', kind, ts: kind === 'header' || kind === 'unknown' ? 0 : flvTimestamp(buf), data: buf };
  if (kind === 'video-config' && buf.length > 17) unit.profile = buf[17]; // AVCDecoderConfigurationRecord.AVCProfileIndication
  return unit;
}

export interface PipeStats {
  writtenBytes: number;
  droppedTags: number;
  droppedBytes: number;
  /** Highest number of bytes ever waiting in the writable's buffer. */
  peakBufferedBytes: number;
  dropping: boolean;
}

export class BoundedFlvPipe implements MediaSink {
  private dropping = false;
  private closed = false;
  readonly stats: PipeStats = { writtenBytes: 0, droppedTags: 0, droppedBytes: 0, peakBufferedBytes: 0, dropping: false };

  /** @param maxBufferedBytes bytes allowed to wait in the target before media is dropped */
  constructor(private readonly target: Writable, private readonly maxBufferedBytes: number) {
    target.on('error', () => {
      this.closed = true; // ffmpeg went away; the supervisor decides what happens next
    });
  }

  get bufferedBytes(): number {
    return this.target.writableLength;
  }

  write(unit: MediaUnit): void {
    if (this.closed || this.target.destroyed || this.target.writableEnded) return;
    const { kind, data: buf } = unit;
    const buffered = this.target.writableLength;
    // Headers and codec configuration are never dropped.
    if (!isEssential(kind)) {
      if (!this.dropping && buffered + buf.length > this.maxBufferedBytes) this.dropping = true;
      if (this.dropping && kind === 'video-key' && buffered + buf.length <= this.maxBufferedBytes / 2) this.dropping = false;
      if (this.dropping) {
        this.stats.droppedTags += 1;
        this.stats.droppedBytes += buf.length;
        this.stats.dropping = true;
        return;
      }
    }
    this.stats.dropping = this.dropping;
    this.target.write(buf);
    this.stats.writtenBytes += buf.length;
    if (this.target.writableLength > this.stats.peakBufferedBytes) this.stats.peakBufferedBytes = this.target.writableLength;
  }

  end(): void {
    this.closed = true;
    if (!this.target.destroyed && !this.target.writableEnded) this.target.end();
  }
}
