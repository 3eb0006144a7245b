// One class's stage as the broadcast shows it: the members in the order they joined, each as its camera's newest
// frame (with its name band) or, without a picture, its name tile. The strip is composed again only when something
// changed. Holds no process: frames and name tiles are handed in (ingest/stage-video.ts). Time comes in.

import { composeStrip, emptyStrip, TILE_BYTES, TILE_H, TILE_W, withLabel } from './tiles.js';

/** A camera whose last frame is older than this shows the member's name instead (ms). */
export const STALE_MS = 2000;

export interface PictureSource {
  /** The strip (yuva420p) to show at this moment. */
  strip(now: number): Buffer;
}

interface Entry {
  order: number;
  name: string;
  camera: boolean;
  nameTile?: Buffer;
  label?: Buffer;
  frame?: Buffer;
  frameAt: number;
}

/** Some solid colours (Y, U, V) a name tile starts with until its drawn tile arrives. */
const PALETTE: [number, number, number][] = [[82, 170, 110], [110, 90, 180], [96, 120, 190], [120, 180, 80], [70, 150, 150]];

/** A number picked from a name (the same name, the same colour: its plain tile and its drawn one). Pure. */
export function nameHash(name: string): number {
  let h = 0;
  for (const ch of name) h = (h * 31 + (ch.codePointAt(0) ?? 0)) >>> 0;
  return h;
}

/** A solid tile (yuv420p) in a colour picked from the name. Pure. */
export function plainTile(name: string): Buffer {
  const [y, u, v] = PALETTE[nameHash(name) % PALETTE.length]!;
  const b = Buffer.alloc(TILE_BYTES);
  const ys = TILE_W * TILE_H;
  const cs = ys / 4;
  b.fill(y, 0, ys);
  b.fill(u, ys, ys + cs);
  b.fill(v, ys + cs, ys + 2 * cs);
  return b;
}

export class StagePicture implements PictureSource {
  private readonly members = new Map<string, Entry>();
  private next = 0;
  private cached = emptyStrip();
  private dirty = false;
  /** Which members' cameras were shown in the cached strip (a camera going stale changes the strip). */
  private shownCameras = '';

  /** A member on the broadcast's stage (again): keeps its place if it is there already. */
  add(id: string, name: string, camera: boolean): void {
    const e = this.members.get(id);
    if (e) {
      if (e.camera !== camera) this.touch(() => (e.camera = camera));
      return;
    }
    this.members.set(id, { order: this.next++, name, camera, frameAt: 0 });
    this.dirty = true;
  }

  remove(id: string): void {
    if (this.members.delete(id)) this.dirty = true;
  }

  setCamera(id: string, camera: boolean): void {
    const e = this.members.get(id);
    if (e && e.camera !== camera) this.touch(() => (e.camera = camera));
  }

  /** The member's drawn name tile and the band for under its camera (yuv420p). */
  setName(id: string, tile: Buffer, label: Buffer): void {
    const e = this.members.get(id);
    if (e) this.touch(() => Object.assign(e, { nameTile: tile, label }));
  }

  /** The newest frame of the member's camera (yuv420p, TILE_W × TILE_H). */
  setFrame(id: string, frame: Buffer, now: number): void {
    const e = this.members.get(id);
    if (!e || frame.length < TILE_BYTES) return;
    e.frame = frame;
    e.frameAt = now;
    if (e.camera) this.dirty = true;
  }

  /** Members in the picture's order (tests, the report of what the broadcast shows). */
  shown(now: number): { id: string; name: string; camera: boolean }[] {
    return this.ordered().map(([id, e]) => ({ id, name: e.name, camera: this.live(e, now) }));
  }

  strip(now: number): Buffer {
    const cams = this.ordered().map(([id, e]) => (this.live(e, now) ? id : '')).join(',');
    if (!this.dirty && cams === this.shownCameras) return this.cached;
    this.shownCameras = cams;
    this.dirty = false;
    this.cached = composeStrip(this.ordered().map(([, e]) => this.tileOf(e, now)));
    return this.cached;
  }

  private tileOf(e: Entry, now: number): Buffer {
    if (this.live(e, now) && e.frame) return e.label ? withLabel(e.frame, e.label) : e.frame;
    return e.nameTile ?? plainTile(e.name);
  }

  private live(e: Entry, now: number): boolean {
    return e.camera && e.frame !== undefined && now - e.frameAt <= STALE_MS;
  }

  private ordered(): [string, Entry][] {
    return [...this.members.entries()].sort((a, b) => a[1].order - b[1].order);
  }

  private touch(f: () => void): void {
    f();
    this.dirty = true;
  }
}
