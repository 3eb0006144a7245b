// Owns the shape of the configuration: every key, its type, range and meaning.
// Pure data and pure checks; never reads files or the environment (load.ts does).

export type KeyType = 'string' | 'integer' | 'number' | 'boolean' | 'enum';

export interface KeySpec {
  type: KeyType;
  description: string;
  min?: number;
  max?: number;
  values?: readonly string[];
  /** Redacted by `config print`, never logged. */
  secret?: boolean;
  /** A string that may not be empty. */
  nonEmpty?: boolean;
  /** Extra check for strings; returns what was expected, or null when fine. */
  check?: (v: string) => string | null;
}

const ladderProfileCheck = (v: string): string | null =>
  /^(1080p|720p|480p|360p|240p)(,(1080p|720p|480p|360p|240p))*$/.test(v)
    ? null
    : 'a comma-separated list of rungs from 1080p, 720p, 480p, 360p, 240p';

/** "first-last" with 1 <= first < last <= 65535. */
export function portRange(v: string): [number, number] | undefined {
  const m = /^(\d{1,5})-(\d{1,5})$/.exec(v);
  if (!m) return undefined;
  const a = Number(m[1]);
  const b = Number(m[2]);
  return a >= 1 && b <= 65535 && a < b ? [a, b] : undefined;
}

const hostCheck = (v: string): string | null =>
  /^[A-Za-z0-9.:\-[\]]+$/.test(v) ? null : 'a host name or IP address';

/** Every configuration key, by dotted path. config/default.json must hold exactly these keys. */
export const SCHEMA = {
  publicHost: {
    type: 'string', nonEmpty: true, check: hostCheck,
    description: 'Host name learners and OBS use to reach this box; printed in OBS settings and URLs.',
  },
  publicUrl: {
    type: 'string',
    check: (v: string) => (/^https?:\/\/[A-Za-z0-9.:\-[\]]+(\/[A-Za-z0-9._~\-/]*)?$/.test(v) && !v.endsWith('/') ? null : 'an http(s) URL without a trailing slash, e.g. https://live.school.example'),
    description: 'Base URL learners and the LMS reach this box by (behind the TLS proxy); empty: http://<publicHost>:<http.port>. LTI URLs are built from it.',
  },
  bindAddress: {
    type: 'string', nonEmpty: true, check: hostCheck,
    description: 'Address the RTMP and HTTP listeners bind to (0.0.0.0 for all IPv4, :: for all).',
  },
  'http.port': { type: 'integer', min: 1, max: 65535, description: 'HTTP port (pages, HLS, REST API, WebSocket).' },
  'rtmp.port': { type: 'integer', min: 1, max: 65535, description: 'RTMP ingest port.' },
  'rtmp.tlsPort': { type: 'integer', min: 1, max: 65535, description: 'RTMPS port, used when rtmp.tlsCert and rtmp.tlsKey are set.' },
  'rtmp.tlsCert': { type: 'string', description: 'PEM certificate file for RTMPS; empty disables RTMPS.' },
  'rtmp.tlsKey': { type: 'string', description: 'PEM private key file for RTMPS; empty disables RTMPS.' },
  'paths.data': { type: 'string', nonEmpty: true, description: 'Folder for the SQLite database and generated secrets.' },
  'paths.media': { type: 'string', nonEmpty: true, description: 'Folder for live HLS output and recordings.' },
  'paths.minFreeMegabytes': {
    type: 'integer', min: 0, max: 10_000_000,
    description: 'Free space the media disk must keep: below it new classes are refused and status, studio and /metrics warn (0: no floor).',
  },
  'paths.db': { type: 'string', description: 'SQLite file; empty means <paths.data>/kmk.db.' },
  'store.url': {
    type: 'string', secret: true,
    check: (v: string) => (v === '' || /^postgres(ql)?:\/\/\S+$/.test(v) ? null : 'empty (the embedded SQLite file) or a postgres:// URL, e.g. postgres://kmk:secret@db.school.example/kmk'),
    description: 'Where the store lives: empty = the embedded SQLite file (paths.db); postgres://user:password@host:port/database = a PostgreSQL shared by several boxes (docs/scaling.md).',
  },
  'node.name': {
    type: 'string', check: (v: string) => (v === '' || /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(v) ? null : 'letters, digits, dots, dashes and underscores (at most 63), e.g. live-2'),
    description: "This box's name among the boxes sharing a store (store.url); empty = the host name. Each box's classes carry it.",
  },
  'store.busyTimeoutMs': { type: 'integer', min: 0, max: 600000, description: 'How long a writer waits for a lock before failing.' },
  'channels.defaultLadder': {
    type: 'string', check: ladderProfileCheck,
    description: 'Ladder profile given to new channels.',
  },
  'channels.defaultLatency': { type: 'enum', values: ['standard', 'low', 'ultra'], description: 'Latency profile given to new channels.' },
  'channels.defaultOverflow': { type: 'enum', values: ['mux', 'degrade', 'refuse'], description: 'Overflow policy given to new channels.' },
  'channels.defaultProfile': { type: 'enum', values: ['lecture', 'motion'], description: 'Encoding profile given to new channels: lecture (slides, a talking head) or motion (labs, sport); see transcode.lectureCrf.' },
  'transcode.ffmpegPath': { type: 'string', description: 'ffmpeg binary; empty: system PATH, then the npm static fallback.' },
  'transcode.ffprobePath': { type: 'string', description: 'ffprobe binary; empty: system PATH, then the npm static fallback.' },
  'transcode.lectureCrf': {
    type: 'number', min: 15, max: 40,
    description: 'Quality target (x264 CRF; lower is better and bigger) of every encoded rung of a lecture-profile channel, under a cap of the rung\'s bitrate; tuned for still images (slides and text stay sharp).',
  },
  'transcode.motionCrf': {
    type: 'number', min: 15, max: 40,
    description: 'Quality target (x264 CRF) of every encoded rung of a motion-profile channel, under a cap of the rung\'s bitrate.',
  },
  'transcode.budgetPixelsPerSecond': {
    type: 'integer', min: 0, max: 1e12,
    description: 'Encoded pixels per second this box may transcode; 0 derives it from the core count.',
  },
  'ingest.reconnectGraceSeconds': { type: 'integer', min: 0, max: 3600, description: 'A publisher reconnecting within this window continues its session.' },
  'ingest.stallSeconds': {
    type: 'integer', min: 0, max: 600,
    description: 'A publisher that sends no media this long (connection still open) is dropped so the instructor can reconnect into the same class; 0 turns this off.',
  },
  'ingest.maxFailuresPerMinute': { type: 'integer', min: 1, max: 10000, description: 'Bad stream keys per address per minute before the address is refused.' },
  'webrtc.enabled': { type: 'boolean', description: 'Take classes from a browser (the studio\'s Go live) and OBS\'s WHIP output at POST /whip/<channel>.' },
  'webrtc.publicIp': {
    type: 'string', check: (v: string) => (/^(\d{1,3}\.){3}\d{1,3}$/.test(v) ? null : 'an IPv4 address'),
    description: 'Address browsers reach this box\'s WebRTC ports by, added to its ICE candidates (a box behind NAT or a port forward); empty: the box\'s own addresses.',
  },
  'webrtc.udpPorts': {
    type: 'string', check: (v: string) => (/^\d{1,5}-\d{1,5}$/.test(v) && portRange(v) ? null : 'a UDP port range first-last, e.g. 40000-40099'),
    description: 'UDP ports WebRTC publishers connect to (open them in the firewall; two per publisher); empty: any free port.',
  },
  'webrtc.stunUrls': {
    type: 'string', check: (v: string) => (/^(stun:[A-Za-z0-9.\-:[\]]+)( stun:[A-Za-z0-9.\-:[\]]+)*$/.test(v) ? null : 'space-separated stun:host:port URLs'),
    description: 'STUN servers (space-separated stun:host:port) the box and the browser use to learn their public addresses; empty: none (a box on the school network needs none).',
  },
  'webrtc.turnUrl': {
    type: 'string', check: (v: string) => (/^turns?:[A-Za-z0-9.\-:[\]]+(\?transport=(udp|tcp))?$/.test(v) ? null : 'a turn:host:port URL (optionally ?transport=tcp)'),
    description: 'A TURN server (e.g. Debian\'s coturn, docs/webrtc.md) for publishers behind firewalls that block UDP; empty: none.',
  },
  'webrtc.turnUsername': { type: 'string', description: 'User name for webrtc.turnUrl.' },
  'webrtc.turnCredential': { type: 'string', secret: true, description: 'Password for webrtc.turnUrl.' },
  'webrtc.maxPublishers': { type: 'integer', min: 1, max: 1000, description: 'WebRTC publishers this box takes at once (each costs a few per cent of a core before its ladder).' },
  'stage.maxMembers': { type: 'integer', min: 1, max: 20, description: 'People on a class\'s stage at once (invited learners, co-teachers): they speak to the class over WebRTC.' },
  'stage.picture': {
    type: 'boolean',
    description: 'Lay the stage members\' cameras (or names) as tiles over the class\'s video in the broadcast; the top rung is then always encoded. Off: learners hear the stage, the picture stays the instructor\'s.',
  },
  'captions.engine': {
    type: 'enum', values: ['pocketsphinx', 'command'],
    description: 'Speech engine of channels with --captions auto: Debian\'s pocketsphinx (weak: docs/captions.md), or captions.engineCommand.',
  },
  'captions.engineCommand': {
    type: 'string', check: (v: string) => (v.length <= 500 && !/[\u0000-\u001f]/.test(v) ? null : 'a command line of at most 500 printable characters'),
    description: 'With captions.engine "command": the engine to run per class (program and arguments, split on spaces, no shell): PCM in, JSON lines out (docs/captions.md).',
  },
  'captions.pocketsphinxModel': { type: 'string', description: 'A folder with en-us/, en-us.lm.bin and cmudict-en-us.dict to use instead of pocketsphinx-en-us\'s (e.g. an adapted model); empty: the package\'s.' },
  'mux.tokenId': { type: 'string', description: 'Mux API token id (also read from MUX_TOKEN_ID). Empty: no Mux.' },
  'mux.tokenSecret': { type: 'string', secret: true, description: 'Mux API token secret (also read from MUX_TOKEN_SECRET).' },
  'mux.webhookSecret': { type: 'string', secret: true, description: 'Mux webhook signing secret.' },
  'mux.baseUrl': { type: 'string', description: 'Mux API base URL; empty: the SDK default.' },
  'mux.ingestUrl': { type: 'string', nonEmpty: true, description: "Mux's RTMP(S) ingest URL; overflow relays push <ingestUrl>/<stream key>." },
  'mux.playbackPolicy': { type: 'enum', values: ['public', 'signed'], description: 'Playback policy of the live streams and assets created on Mux.' },
  'mux.signingKeyId': { type: 'string', description: 'Id of a Mux URL signing key (also read from MUX_SIGNING_KEY); needed when mux.playbackPolicy is "signed".' },
  'mux.signingKeyPrivate': {
    type: 'string', secret: true,
    description: 'That signing key\'s private key, base64-encoded as Mux shows it, or PEM (also read from MUX_PRIVATE_KEY).',
  },
  'mux.playbackTokenTtlSeconds': { type: 'integer', min: 60, max: 604800, description: 'Lifetime of the playback tokens handed out for signed Mux playback.' },
  'mux.deleteLocalAfterArchive': { type: 'boolean', description: 'Delete a recording from media/vod once Mux reports its asset ready.' },
  'mux.uploadChunkBytes': { type: 'integer', min: 262144, max: 134217728, description: 'Size of each resumable upload chunk sent to Mux.' },
  'hub.joinSecret': {
    type: 'string', secret: true,
    description: 'Secret that signs join tokens (32+ characters); empty: generated once into <paths.data>/join-secret.',
    check: (v: string) => (v.length >= 32 ? null : 'at least 32 characters'),
  },
  'hub.staffTokenMaxHours': {
    type: 'integer', min: 1, max: 720,
    description: 'The longest an instructor or moderator join token may live: minting refuses longer, and longer ones are not accepted.',
  },
  'hub.chatMaxLength': { type: 'integer', min: 1, max: 2000, description: 'Longest chat message, in characters.' },
  'hub.chatBurst': { type: 'integer', min: 1, max: 1000, description: 'Chat messages a learner may send at once before the rate limit applies.' },
  'hub.chatWindowSeconds': { type: 'integer', min: 1, max: 3600, description: 'A learner may send hub.chatBurst messages per this many seconds.' },
  'hub.tickMs': { type: 'integer', min: 10, max: 1000, description: 'Outgoing room events are batched into one frame per tick of this length.' },
  'hub.maxBackpressureBytes': { type: 'integer', min: 16384, max: 67108864, description: 'Bytes queued for one slow client before it is disconnected.' },
  'hub.idleTimeoutSeconds': { type: 'integer', min: 8, max: 960, description: 'A socket silent this long is closed (pings are sent automatically).' },
  'hub.backplane': {
    secret: true,
    type: 'string',
    description: 'Redis URL (redis://host:port/db or rediss://) that spreads the hub over processes and boxes (also read from KMK_HUB_REDIS_URL); empty: one process, no Redis. See docs/scaling.md.',
    check: (v: string) => (v === '' || /^rediss?:\/\/[^\s]+$/.test(v) ? null : 'a redis:// or rediss:// URL, or empty'),
  },
  'hub.writer': {
    type: 'boolean',
    description: 'With hub.backplane: this box writes the engagement records queued in Redis into its SQLite file. Exactly one box should (a second one waits).',
  },
  'web.frameAncestors': {
    type: 'string', nonEmpty: true,
    description: "Who may embed the watch page in a frame (CSP frame-ancestors), e.g. \"'self' https://lms.school.example\".",
    check: (v: string) => (/^[A-Za-z0-9'*:/.\- ]+$/.test(v) ? null : 'a space-separated list of CSP sources'),
  },
  'metrics.token': {
    type: 'string', secret: true,
    description: 'When set, GET /metrics on the HTTP port needs "Authorization: Bearer <token>" from any client. Empty: /metrics answers only clients on this box (loopback, not through a proxy); others get 403.',
  },
  'metrics.listen': {
    type: 'string',
    check: (v: string) => (v === '' || /^([A-Za-z0-9.\-]+|\[[0-9a-fA-F:.]+\]):\d{1,5}$/.test(v) ? null : 'empty, or host:port, e.g. 10.0.0.5:9464 or 127.0.0.1:9464'),
    description: 'A separate address for /metrics only (host:port, e.g. an internal interface for Prometheus): it answers there to anyone who reaches it (and asks for metrics.token when that is set). Empty: no separate listener.',
  },
  'hls.cdnBaseUrl': {
    type: 'string',
    check: (v: string) => (v === '' || (/^https?:\/\/[A-Za-z0-9.:\-[\]]+(\/[A-Za-z0-9._~\-/]*)?$/.test(v) && !v.endsWith('/')) ? null : 'empty, or an http(s) URL without a trailing slash, e.g. https://cdn.school.example'),
    description: 'A pull CDN in front of this origin: playlists stay here, every segment and part they name is fetched from this host (same paths). Empty: everything from this box.',
  },
  'hls.partSeconds': {
    type: 'number', min: 0.1, max: 1,
    description: "Target length of a Low-Latency HLS partial segment (channels with latency 'ultra'), rounded to whole frames. Players hold back three of them.",
  },
  'hls.playbackTokenTtlSeconds': {
    type: 'integer', min: 300, max: 604800,
    description: 'Lifetime of the playback tokens that private channels require on every playlist and segment request.',
  },
  'lti.scoreMode': {
    type: 'enum', values: ['percent', 'minutes', 'presence'],
    description: 'What attendance passback writes to the gradebook: percent of the class attended, minutes attended, or 1/0 present.',
  },
  'lti.presentPercent': { type: 'integer', min: 1, max: 100, description: 'With lti.scoreMode "presence": the share of the class a learner must attend to count as present.' },
  'lti.retryBaseSeconds': { type: 'integer', min: 1, max: 3600, description: 'First retry delay of a failed passback call; doubles per attempt (at most 1 h).' },
  'lti.maxAttempts': { type: 'integer', min: 1, max: 100, description: 'Attempts before a passback item is marked failed (kmk-live lti outbox shows it).' },
  'lti.loginsPerMinutePerAddress': {
    type: 'integer', min: 10, max: 100000,
    description: 'LTI logins (/lti/login) one client address may start per minute, as a burst; more get 429. A campus behind one NAT address launches a whole class at once: keep it above the largest class. At the default (1,200, refilled per minute) one address can hold at most 12,000 of the 20,000 pending logins the tool keeps.',
  },
  'lti.requireBrowserBinding': {
    type: 'boolean',
    description: 'Over HTTPS, refuse a launch that neither its binding cookie nor the platform\'s postMessage storage ties to the browser that started the login (login CSRF). Off: such launches are let through with a warning in the log.',
  },
  'lti.clockSkewSeconds': { type: 'integer', min: 0, max: 600, description: 'Clock difference tolerated when checking an id_token\'s exp and iat.' },
  'cost.boxPerMonth': { type: 'number', min: 0, max: 1e7, description: 'What this box costs a month (hardware or VM, power, network), USD.' },
  'cost.classesPerMonth': { type: 'integer', min: 1, max: 1e6, description: 'How many classes the box carries a month: each class bears this share of cost.boxPerMonth.' },
  'cost.cdnPerGb': { type: 'number', min: 0, max: 100, description: 'CDN or origin egress price per GB served, USD (0 when egress is in the box price). Default: AWS CloudFront, first 10 TB, US/Europe, read 2026-12-04 (docs/cost.md).' },
  'cost.muxEncodePerMinHd': { type: 'number', min: 0, max: 100, description: 'Mux encoding (live input or asset) per minute at 1080p and above, USD. Default: a transcription of mux.com/pricing/video, read 2026-12-04 (docs/cost.md).' },
  'cost.muxEncodePerMinSd': { type: 'number', min: 0, max: 100, description: 'Mux encoding per minute at 720p and below, USD. Default: 80 % of the HD rate (an assumption; docs/cost.md).' },
  'cost.muxDeliveryPerMin': { type: 'number', min: 0, max: 100, description: 'Mux delivery per minute watched, USD. Default: the lower of two published figures (0.0008 and 0.0014), read 2026-12-04 (docs/cost.md).' },
  'cost.muxStoragePerMinMonth': { type: 'number', min: 0, max: 100, description: 'Mux storage per minute of video per month, USD. Default: the lower of two published figures (0.0024 and 0.003), read 2026-12-04 (docs/cost.md).' },
  'cost.zoomPerHostPerMonth': { type: 'number', min: 0, max: 1e5, description: 'Zoom licence per host per month, USD (the conferencing being replaced). Default: Pro as a customer reports paying, read 2026-12-04 (docs/cost.md).' },
  'cost.zoomLargeMeetingPerMonth': { type: 'number', min: 0, max: 1e5, description: 'Zoom large-meeting add-on per host per month, USD, counted when a class had more than 100 viewers.' },
  'cost.zoomHosts': { type: 'integer', min: 1, max: 1e5, description: 'Zoom host licences the school would need for these classes.' },
  'reports.beaconRetentionDays': {
    type: 'integer', min: 1, max: 3650,
    description: 'Players\' quality-of-experience beacons older than this are deleted (checked at start and every hour); class reports older than this show no QoE.',
  },
  'log.level': { type: 'enum', values: ['debug', 'info', 'warn', 'error'], description: 'Least severe log level printed.' },
} as const satisfies Record<string, KeySpec>;

export type ConfigKey = keyof typeof SCHEMA;

type ValueOf<S> = S extends { type: 'integer' | 'number' } ? number
  : S extends { type: 'boolean' } ? boolean
  : S extends { type: 'enum'; values: readonly (infer V)[] } ? V
  : string;

/** The flat, typed configuration: one field per dotted key. */
export type Config = { readonly [K in ConfigKey]: ValueOf<(typeof SCHEMA)[K]> };

/** Checks one value against its key's spec; returns what was expected, or null when the value fits. */
export function checkValue(spec: KeySpec, value: unknown): string | null {
  switch (spec.type) {
    case 'string': {
      if (typeof value !== 'string') return 'a string';
      if (spec.nonEmpty && value.length === 0) return 'a non-empty string';
      if (value.length > 0 && spec.check) return spec.check(value);
      return null;
    }
    case 'integer':
    case 'number': {
      const what = spec.type === 'integer' ? 'an integer' : 'a number';
      const range = spec.min !== undefined && spec.max !== undefined ? ` from ${spec.min} to ${spec.max}` : '';
      if (typeof value !== 'number' || !Number.isFinite(value)) return what + range;
      if (spec.type === 'integer' && !Number.isInteger(value)) return what + range;
      if ((spec.min !== undefined && value < spec.min) || (spec.max !== undefined && value > spec.max)) return what + range;
      return null;
    }
    case 'boolean':
      return typeof value === 'boolean' ? null : 'true or false';
    case 'enum':
      return typeof value === 'string' && spec.values?.includes(value) ? null : `one of ${spec.values?.join(', ')}`;
  }
}

/** `mux.tokenId` → `KMK_MUX_TOKEN_ID`. */
export function envName(key: string): string {
  return 'KMK_' + key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/\./g, '_').toUpperCase();
}
