import t from 'tap';
import { channelPlayback, sessionReplay, type PlaybackFacts } from '../src/live/playback.js';

const facts = (o: Partial<PlaybackFacts> = {}): PlaybackFacts => ({
  live: () => undefined,
  recordingKept: async () => false,
  archivePlaybackId: () => undefined,
  muxUrl: async (id) => `https://stream.mux.com/${id}.m3u8?token=t-${id}`,
  ...o,
});

t.test('a live channel plays its local ladder unless it was sent to Mux with a playback id', async (t) => {
  t.same(await channelPlayback('math', facts()), { mode: 'local', url: '/hls/math/master.m3u8' }, 'not live: the local URL (the page waits on it)');
  t.same(await channelPlayback('math', facts({ live: () => ({ mode: 'local', playbackId: null }) })), { mode: 'local', url: '/hls/math/master.m3u8' });
  t.same(await channelPlayback('math', facts({ live: () => ({ mode: 'mux', playbackId: 'pb1' }) })), { mode: 'mux', url: 'https://stream.mux.com/pb1.m3u8?token=t-pb1' });
  t.same(await channelPlayback('math', facts({ live: () => ({ mode: 'mux', playbackId: null }) })), { mode: 'local', url: '/hls/math/master.m3u8' },
    'a Mux stream without a playback id cannot be played there');
});

t.test('a replay is the kept recording first, then the Mux archive, else none', async (t) => {
  const id = 's_0123456789abcdef';
  t.same(await sessionReplay(id, facts({ recordingKept: async () => true, archivePlaybackId: () => 'pb2' })), { mode: 'local', url: `/vod/${id}/master.m3u8` },
    'the local copy wins while it exists (no Mux delivery cost)');
  t.same(await sessionReplay(id, facts({ archivePlaybackId: () => 'pb2' })), { mode: 'mux', url: 'https://stream.mux.com/pb2.m3u8?token=t-pb2' });
  t.equal(await sessionReplay(id, facts({ archivePlaybackId: () => null })), undefined, 'archived but no playback id yet');
  t.equal(await sessionReplay(id, facts()), undefined);
});
