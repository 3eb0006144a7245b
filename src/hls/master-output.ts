// The master playlist as a class output: written once every variant is ready (beside the class, never blocking
// it), awaited when the class closes so a class that ends early still gets its master from its final segments.
// `published` tells the class run whether there is a playable recording to keep.

export type MasterWrite = (over: () => boolean) => Promise<boolean>;

export class MasterOutput {
  readonly kind = 'master';
  private writing?: Promise<boolean>;
  private closing = false;

  /** @param write resolves true once master.m3u8 is written, false when `over()` came first. */
  constructor(private readonly write: MasterWrite, private readonly onWritten?: () => void, private readonly onError?: (err: unknown) => void) {}

  async start(): Promise<void> {
    // A resumed class keeps the writer it has: the variants are the same.
    if (this.writing) return;
    this.writing = this.write(() => this.closing);
    void this.writing.then((written) => {
      if (written) this.onWritten?.();
    }, (err: unknown) => this.onError?.(err));
  }

  async stop(): Promise<void> {}

  /** After the ladder stopped: no segment is still to come, so the writer finishes or gives up now. */
  async close(): Promise<{ published: boolean }> {
    this.closing = true;
    return { published: this.writing ? await this.writing.catch(() => false) : false };
  }
}
