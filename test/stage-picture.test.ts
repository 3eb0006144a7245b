// The stage's picture for the broadcast, its pure parts and its ffmpeg shells: the strip of tiles (placement,
// transparency, name bands), the class's StagePicture (order, name until a camera frame, stale cameras), the strips
// written on the class's clock (lead, owed never skipped), a member's name drawn by real ffmpeg, a real VP8 camera
// decoded into tiles.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { composeStrip, emptyStrip, GAP, LABEL_BYTES, MAX_TILES, STRIP_BYTES, STRIP_H, STRIP_W, TILE_BYTES, TILE_H, TILE_W, tileX, withLabel } from '../src/media/tiles.js';
import { plainTile, STALE_MS, StagePicture } from '../src/media/stage-picture.js';
import { PICTURE_FPS, PICTURE_LEAD_MS, StagePictureFeed } from '../src/transcode/stage-picture.js';
import { stageClocked } from '../src/transcode/stage-audio.js';
import { CameraDecoder, cameraArgs, drawName, initials, shortName } from '../src/ingest/stage-video.js';

const solid = (y: number, u = 128, v = 128): Buffer => {
  const b = Buffer.alloc(TILE_BYTES, y);
  b.fill(u, TILE_W * TILE_H, TILE_W * TILE_H * 1.25);
  b.fill(v, TILE_W * TILE_H * 1.25);
  return b;
};
const alphaAt = (s: Buffer, x: number, y: number): number => s[STRIP_W * STRIP_H * 1.5 + y * STRIP_W + x]!;
const lumaAt = (s: Buffer, x: number, y: number): number => s[y * STRIP_W + x]!;

t.test('the strip: tiles right-aligned, opaque where they are, transparent elsewhere', async (t) => {
  t.equal(emptyStrip().length, STRIP_BYTES);
  t.equal(alphaAt(emptyStrip(), 10, 10), 0, 'nobody on stage: fully transparent');
  const s = composeStrip([solid(50), solid(200)]);
  t.equal(tileX(1, 2), STRIP_W - TILE_W, 'the last tile ends at the right edge');
  t.equal(tileX(0, 2), STRIP_W - 2 * TILE_W - GAP);
  t.equal(lumaAt(s, STRIP_W - 1, 0), 200, 'the second member on the right');
  t.equal(lumaAt(s, tileX(0, 2) + 5, TILE_H - 1), 50, 'the first beside it');
  t.equal(alphaAt(s, tileX(0, 2) + 5, 5), 255, 'tiles are opaque');
  t.equal(alphaAt(s, STRIP_W - TILE_W - 1, 5), 0, 'the gap is transparent');
  t.equal(alphaAt(s, 5, 5), 0, 'the rest too');
  const many = composeStrip(Array.from({ length: MAX_TILES + 2 }, (_x, i) => solid(20 + i)));
  t.equal(lumaAt(many, 0, 0), 20, `${MAX_TILES + 2} members: the first ${MAX_TILES} fill the strip from its left edge`);
  t.equal(lumaAt(many, STRIP_W - 1, 0), 20 + MAX_TILES - 1);
  t.equal(composeStrip([Buffer.alloc(10)]).equals(emptyStrip()), true, 'a short frame is not drawn');
  const labelled = withLabel(solid(90), Buffer.alloc(LABEL_BYTES, 16));
  t.equal(labelled[0], 90, 'the picture above the band');
  t.equal(labelled[(TILE_H - 1) * TILE_W], 16, 'the band at the foot');
});

t.test('a class\'s stage picture: join order, the name until the camera shows, a stale camera gives way to the name', async (t) => {
  const p = new StagePicture();
  const empty = p.strip(0);
  t.equal(alphaAt(empty, STRIP_W - 1, 0), 0, 'nobody: transparent');
  p.add('a', 'Ada', false);
  p.add('b', 'Ben', false);
  const names = p.strip(0);
  t.not(names, empty, 'a join changes the strip');
  t.equal(lumaAt(names, STRIP_W - 1, 0), plainTile('Ben')[0], 'before its name is drawn, a member is a plain tile in its colour');
  t.same(p.shown(0).map((m) => m.name), ['Ada', 'Ben'], 'in the order they joined');
  p.setName('b', solid(77), Buffer.alloc(LABEL_BYTES, 16));
  t.equal(lumaAt(p.strip(0), STRIP_W - 1, 0), 77, 'then its drawn name tile');
  p.setCamera('b', true);
  p.setFrame('b', solid(222), 1000);
  const cam = p.strip(1000);
  t.equal(lumaAt(cam, STRIP_W - 1, 0), 222, 'a camera frame replaces the name');
  t.equal(lumaAt(cam, STRIP_W - 1, STRIP_H - 1), 16, 'with the name band under it');
  t.equal(p.strip(1500), cam, 'nothing changed: the same strip, not composed again');
  t.equal(lumaAt(p.strip(1000 + STALE_MS + 1), STRIP_W - 1, 0), 77, 'a camera silent for too long: the name again');
  p.add('a', 'Ada', false);
  t.same(p.shown(0).map((m) => m.name), ['Ada', 'Ben'], 'joining again keeps the place');
  p.remove('a');
  t.same(p.shown(0).map((m) => m.name), ['Ben'], 'a member who left is gone');
  p.remove('b');
  t.equal(alphaAt(p.strip(5000), STRIP_W - 1, 0), 0, 'an empty stage is transparent again');
});

t.test('strips go to the ladder on the class\'s clock, ahead by the lead, and are owed rather than skipped', async (t) => {
  const out = new PassThrough({ highWaterMark: 1 });
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  let asked = 0;
  const feed = new StagePictureFeed(out, { strip: () => { asked += 1; return emptyStrip(); } }, () => 0);
  const seen: number[] = [];
  const sink = stageClocked({ write: (u) => seen.push(u.ts) }, [feed]);
  sink.write({ format: 'flv', kind: 'header', ts: 0, data: Buffer.alloc(1) });
  t.equal(feed.written, Math.floor((PICTURE_LEAD_MS * PICTURE_FPS) / 1000) + 1, 'at the start: the lead\'s worth of strips');
  sink.write({ format: 'flv', kind: 'video', ts: 5000, data: Buffer.alloc(1) });
  sink.write({ format: 'flv', kind: 'video', ts: 6000, data: Buffer.alloc(1) });
  t.equal(feed.written, Math.floor(((1000 + PICTURE_LEAD_MS) * PICTURE_FPS) / 1000) + 1, 'one second of media later: ten more strips');
  t.same(seen, [0, 5000, 6000], 'the media itself passes through unchanged');
  t.ok(asked >= 2, 'the picture is asked for its strip at each step');
  await new Promise((r) => setImmediate(r));
  t.equal(chunks.reduce((n, c) => n + c.length, 0), feed.written * STRIP_BYTES, 'every strip written whole');

  // ffmpeg not reading: past the bound strips are owed, then written once it reads again (timestamps stay true).
  const stuck = new PassThrough({ highWaterMark: 1 });
  const f2 = new StagePictureFeed(stuck, { strip: () => emptyStrip() }, () => 0);
  f2.fill(10_000);
  const want = Math.floor(((10_000 + PICTURE_LEAD_MS) * PICTURE_FPS) / 1000) + 1;
  t.ok(f2.written < want, `a stalled ffmpeg: ${f2.written} of ${want} strips written, the rest owed (memory bounded)`);
  const owed = f2.written;
  stuck.resume();
  for (let i = 0; i < 20 && f2.written < want; i += 1) {
    await new Promise((r) => setTimeout(r, 10));
    f2.fill(10_000); // the next unit of the class's media
  }
  t.ok(f2.written > owed, 'once it reads again, the owed strips follow');
  t.equal(f2.written, want, 'all of them: the strips\' times match the media\'s again');
});

t.test('names: initials and a short name for the tile', async (t) => {
  t.equal(initials('Ada Lovelace'), 'AL');
  t.equal(initials('zoë'), 'Z');
  t.equal(initials('Room 101 group'), 'RG', 'words that are no name (numbers) are skipped');
  t.equal(initials('  '), '?');
  t.equal(shortName('A\u0000B\u202eC'), 'ABC', 'control and direction characters out');
  t.equal([...shortName('x'.repeat(60))].length, 28, 'long names are cut');
  t.equal(shortName(''), 'Guest');
});

t.test('a name tile drawn by ffmpeg: text on a colour, a band for under the camera', async (t) => {
  const drawn = await drawName('ffmpeg', 'Zoë Ångström %{pts} \'; rm -rf /');
  t.ok(drawn, 'drawn');
  t.equal(drawn!.tile.length, TILE_BYTES);
  t.equal(drawn!.label.length, LABEL_BYTES);
  const luma = drawn!.tile.subarray(0, TILE_W * TILE_H);
  const bright = luma.filter((v) => v > 200).length;
  t.ok(bright > 200 && bright < luma.length / 4, `white letters on the colour (${bright} bright pixels)`);
  const band = drawn!.label.subarray(0, TILE_W * 24);
  t.ok(band.filter((v) => v > 150).length > 50, 'the band has the name in light letters');
  t.equal(await drawName('/nonexistent/ffmpeg', 'A'), undefined, 'no ffmpeg: nothing drawn (the picture keeps a plain tile)');
});

t.test('a camera decoded into tiles: real VP8 RTP from ffmpeg into the member\'s decoder', async (t) => {
  t.same(cameraArgs().slice(-4), ['-vf', `fps=10,scale=${TILE_W}:${TILE_H}:force_original_aspect_ratio=increase,crop=${TILE_W}:${TILE_H},setsar=1,format=yuv420p`, '-f', 'rawvideo', 'pipe:1'].slice(-4));
  // A second of blue VP8, cut into RTP packets the way a browser sends them (ffmpeg's RTP muxer into a file of packets).
  const ivf = execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'color=c=0x0000ff:s=320x240:r=30:d=1', '-c:v', 'libvpx', '-deadline', 'realtime', '-g', '30', '-f', 'ivf', '-'], { maxBuffer: 16 * 1024 * 1024 });
  const frames: Buffer[] = [];
  for (let off = 32; off + 12 <= ivf.length;) {
    const size = ivf.readUInt32LE(off);
    frames.push(ivf.subarray(off + 12, off + 12 + size));
    off += 12 + size;
  }
  t.ok(frames.length >= 25, `${frames.length} VP8 frames`);
  const tiles: Buffer[] = [];
  let keyframes = 0;
  const dec = new CameraDecoder('ffmpeg', (tile) => tiles.push(tile), () => { keyframes += 1; });
  t.teardown(() => dec.close());
  let seq = 1000;
  // Three seconds (the frames three times over): a camera keeps sending, the decoder's probe wants some.
  for (const [i, f] of [...frames, ...frames, ...frames].entries()) {
    // One packet per frame: the VP8 payload descriptor (S bit: start of partition) and the frame.
    for (let o = 0; o < f.length; o += 1000) {
      const part = f.subarray(o, o + 1000);
      const desc = Buffer.from([o === 0 ? 0x10 : 0x00]);
      if (i >= frames.length && i % frames.length === 0 && o === 0) t.ok(f[0]! % 2 === 0, 'each round starts on a keyframe');
      dec.push({ seq: seq++ & 0xffff, ts: (i * 3000) >>> 0, marker: o + 1000 >= f.length, payload: Buffer.concat([desc, part]) });
    }
    await new Promise((r) => setTimeout(r, 33));
  }
  const deadline = Date.now() + 5000;
  while (tiles.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.ok(tiles.length > 0, `tiles came out (${dec.frames} decoded at ${TILE_W} × ${TILE_H})`);
  const last = tiles[tiles.length - 1]!;
  t.equal(last.length, TILE_BYTES);
  const u = last[TILE_W * TILE_H + 10]!;
  t.ok(u > 200, `the tile is blue (U ${u})`);
  t.equal(keyframes, 0, 'a clean stream: no keyframe asked for');
});
