// The stage's voices as one sound: each stage member's decoded audio (48 kHz mono, 16-bit) waits in its own short
// queue and `take` sums them, sample by sample, clipped. A queue holds at most MAX_QUEUE_MS: a voice that arrives
// faster than it is taken (a burst after a stall) loses its oldest samples instead of falling behind for good.
// Pure: no clock, no I/O.

export const MIX_RATE = 48000;
/** The longest a voice waits to be mixed (ms). */
export const MAX_QUEUE_MS = 240;
const MAX_QUEUE = (MIX_RATE * MAX_QUEUE_MS) / 1000;

interface Voice {
  chunks: Int16Array[];
  /** Samples waiting in all chunks. */
  length: number;
  /** Offset into the first chunk. */
  offset: number;
}

export class PcmMix {
  private readonly voices = new Map<string, Voice>();
  /** Samples dropped from voices that ran ahead. */
  dropped = 0;

  /** Queues `pcm` for `id` (a member joins the mix with its first samples). */
  push(id: string, pcm: Int16Array): void {
    if (pcm.length === 0) return;
    let v = this.voices.get(id);
    if (!v) this.voices.set(id, (v = { chunks: [], length: 0, offset: 0 }));
    v.chunks.push(pcm);
    v.length += pcm.length;
    while (v.length > MAX_QUEUE) {
      const first = v.chunks[0]!;
      const left = first.length - v.offset;
      const cut = Math.min(left, v.length - MAX_QUEUE);
      v.offset += cut;
      v.length -= cut;
      this.dropped += cut;
      if (v.offset >= first.length) {
        v.chunks.shift();
        v.offset = 0;
      }
    }
  }

  /** A member left: its queued audio is not played. */
  remove(id: string): void {
    this.voices.delete(id);
  }

  /** Voices with audio waiting. */
  get active(): number {
    let n = 0;
    for (const v of this.voices.values()) if (v.length > 0) n += 1;
    return n;
  }

  /** The next `samples` of the mix (silence where no voice has audio). */
  take(samples: number): Int16Array {
    const acc = new Int32Array(samples);
    for (const v of this.voices.values()) {
      let i = 0;
      while (i < samples && v.length > 0) {
        const first = v.chunks[0]!;
        const n = Math.min(samples - i, first.length - v.offset);
        for (let k = 0; k < n; k += 1) acc[i + k]! += first[v.offset + k]!;
        i += n;
        v.offset += n;
        v.length -= n;
        if (v.offset >= first.length) {
          v.chunks.shift();
          v.offset = 0;
        }
      }
    }
    const out = new Int16Array(samples);
    for (let i = 0; i < samples; i += 1) out[i] = Math.max(-32768, Math.min(32767, acc[i]!));
    return out;
  }
}
