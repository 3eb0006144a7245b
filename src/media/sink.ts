// Where live media goes: one FLV buffer at a time (file header, then tags), in order, never awaited. Ingest
// produces into sinks; the ladder's and the relay's bounded pipes and the preroll buffer consume.

export interface MediaSink {
  write(buf: Buffer): void;
}
