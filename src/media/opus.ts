// Decodes a stage member's Opus packets (from WebRTC) to 48 kHz mono 16-bit PCM for the broadcast's mix. libopus
// compiled to WebAssembly inside the `opusscript` npm package: nothing to build or download. Thin shell.

import OpusScript from 'opusscript';

export class OpusDecoder {
  private readonly dec = new OpusScript(48000, 1, OpusScript.Application.VOIP);
  private closed = false;

  /** One packet's samples; an empty array for a packet libopus refuses (counted by the caller as lost). */
  decode(packet: Buffer): Int16Array {
    if (this.closed || packet.length === 0) return new Int16Array(0);
    try {
      const out = this.dec.decode(packet);
      return new Int16Array(out.buffer.slice(out.byteOffset, out.byteOffset + out.length));
    } catch {
      return new Int16Array(0);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.dec.delete();
  }
}
