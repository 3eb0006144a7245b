// Keeping a class's recording closes its rendition playlists: a ladder killed with media still queued (it could not
// keep up when the class ended) never wrote EXT-X-ENDLIST, and a replay without it plays as a live stream that stalls.

import t from 'tap';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { diskFiles } from '../src/live/manager.js';
import { testdir } from './helpers/testdir.js';

t.test('keep closes open playlists and leaves closed ones alone', async (t) => {
  const dir = testdir(t);
  const live = join(dir, 'live', 'bio');
  const open = '#EXTM3U\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXTINF:2.0,\ns_a_00000.ts\n';
  const closed = `${open}#EXT-X-ENDLIST\n`;
  mkdirSync(join(live, '360p'), { recursive: true });
  mkdirSync(join(live, 'audio'), { recursive: true });
  writeFileSync(join(live, '360p', 'index.m3u8'), open);
  writeFileSync(join(live, 'audio', 'index.m3u8'), closed);
  writeFileSync(join(live, 'master.m3u8'), '#EXTM3U\n');
  const vod = join(dir, 'vod', 's_a');
  await diskFiles.keep(live, vod);
  t.notOk(existsSync(live), 'the live folder became the recording');
  t.equal(readFileSync(join(vod, '360p', 'index.m3u8'), 'utf8'), closed, 'the open playlist is closed');
  t.equal(readFileSync(join(vod, 'audio', 'index.m3u8'), 'utf8'), closed, 'a closed one is not closed twice');
  t.equal(readFileSync(join(vod, 'master.m3u8'), 'utf8'), '#EXTM3U\n', 'the master is not touched');
});
