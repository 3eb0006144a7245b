// What a live class feeds, declared by the class run that drives it: a list of outputs, each started on the
// current publisher, stopped when the publisher changes or the class ends, and closed once the class is over.
// The ladder, the LL-HLS packager and the master playlist (hls/outputs.ts), the Mux relay (mux/overflow.ts) are
// outputs; captions, a stage compositor or an audio-only rung are added the same way. Types only.

import type { Channel } from '../domain/channel.js';
import type { MediaSink } from '../media/sink.js';
import type { LadderPlan } from '../transcode/ladder.js';
import type { TranscoderStatus } from '../transcode/supervisor.js';

/** Why an output stops: the publisher changed (it starts again at once, resumed) or the class ends. */
export type StopWhy = 'restart' | 'end';

export interface ClassOutput {
  /** What it is, for logs and views ('ladder', 'll-packager', 'master', 'relay', …). */
  readonly kind: string;
  /** Starts on the current publisher; `resume`: the class continues after a publisher change (a discontinuity). */
  start(resume: boolean): Promise<void>;
  /** Stops consuming media; may be started again (resumed). */
  stop(why: StopWhy): Promise<void>;
  /** The class is over (after stop): finish what outlives one run. `published`: a playable master exists. */
  close(): Promise<{ published?: boolean }>;
  /** The ladder's process, for the class's view and its session row. */
  transcoder?(): TranscoderStatus | undefined;
}

/** What an output is made for: one class on the current plan. */
export interface OutputContext {
  channel: Channel;
  sessionId: string;
  /** The class's live folder (media/live/<channel>). */
  dir: string;
  plan: LadderPlan;
  /** Whether the session is recorded (kept after the class). */
  record: boolean;
  /** Connects the live media to a consumer (the held start of the class first); returns the disconnect. */
  feed(sink: MediaSink): () => void;
  onSlowChange(slow: boolean): void;
  /** False while the publisher is away (a starved ladder is not a slow one). */
  inputFlowing(): boolean;
}

/** Makes the outputs of a class that runs on this box, in start order (stopped in reverse, closed in order). */
export interface LocalOutputs {
  create(ctx: OutputContext): ClassOutput[];
}

/** Mux overflow: the channel's Mux live stream and a relay output that pushes the class there. */
export interface OverflowPort {
  /** Creates (once) or reuses the channel's Mux live stream; returns where to push and the playback id. */
  ensureStream(slug: string): Promise<{ target: string; playbackId: string | null }>;
  /** source: what the feed carries, when it is not RTMP's FLV (a WebRTC publisher's Matroska). */
  relay(req: { target: string; feed(sink: MediaSink): () => void; onGiveUp(reason: string): void; source?: { container: 'flv' | 'mkv'; videoCodec: string } }): ClassOutput;
  markOverflow(sessionId: string): Promise<void>;
}
