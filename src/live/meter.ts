// A class's bytes in, across its publishers, and how long the current publisher has sent nothing. Reads the
// ingest's byte counters; decides nothing (the class run asks it and decides).

export class PublisherMeter {
  private before = 0;
  private last = 0;
  private mediaAt?: number;
  private mediaBytes?: number;

  constructor(private readonly bytesOf: (publisher: string) => number | undefined) {}

  /** The publisher's bytes so far (the last known count once it is gone). */
  read(publisher: string): number {
    const now = this.bytesOf(publisher);
    if (now !== undefined) this.last = now;
    return this.last;
  }

  /** Bytes in for the whole class. */
  total(publisher: string): number {
    return this.before + this.read(publisher);
  }

  /** The class continues on another publisher. node-media-server carries the byte count over when the same address resumes a publish: count it once. */
  switchTo(from: string, to: string): void {
    const before = this.read(from);
    const carried = this.bytesOf(to) ?? 0;
    this.before += carried >= before ? 0 : before;
    this.last = 0;
    this.mediaAt = undefined;
  }

  /** Records what the publisher has sent by `now`; answers how long it has sent nothing (0 when bytes moved). */
  observe(publisher: string, now: number): number | undefined {
    const bytes = this.bytesOf(publisher);
    if (bytes === undefined) return undefined;
    if (this.mediaAt === undefined || bytes !== this.mediaBytes) {
      this.mediaBytes = bytes;
      this.mediaAt = now;
      return 0;
    }
    return now - this.mediaAt;
  }

  /** How long the publisher has sent nothing, without recording anything. */
  silentMs(publisher: string, now: number): number {
    const bytes = this.bytesOf(publisher);
    if (bytes === undefined || this.mediaAt === undefined || bytes !== this.mediaBytes) return 0;
    return now - this.mediaAt;
  }

  /** Starts the silence over (the publisher was dropped). */
  forget(): void {
    this.mediaAt = undefined;
  }
}
