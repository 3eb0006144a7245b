// Numbered schema migrations. Append only: a released migration is never edited, only followed by a new one.
// A migration that rebuilds a table must create its read-model triggers again (migration 13: rv_<table>_*).

export interface Migration {
  version: number;
  /** Rebuilds a table: run with foreign keys off (checked before commit). */
  rebuild?: boolean;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'channels, stream keys, api tokens',
    sql: `
      CREATE TABLE channels (
        id          INTEGER PRIMARY KEY,
        slug        TEXT NOT NULL UNIQUE,
        title       TEXT NOT NULL,
        ladder      TEXT NOT NULL,
        latency     TEXT NOT NULL CHECK (latency IN ('standard', 'low')),
        record      INTEGER NOT NULL CHECK (record IN (0, 1)),
        archive     INTEGER NOT NULL CHECK (archive IN (0, 1)),
        overflow    TEXT NOT NULL CHECK (overflow IN ('mux', 'degrade', 'refuse')),
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
      );
      CREATE TABLE stream_keys (
        id           INTEGER PRIMARY KEY,
        channel_id   INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
        hash         TEXT NOT NULL UNIQUE,
        fingerprint  TEXT NOT NULL,
        created_at   TEXT NOT NULL,
        last_used_at TEXT,
        revoked_at   TEXT
      );
      CREATE UNIQUE INDEX stream_keys_one_active ON stream_keys(channel_id) WHERE revoked_at IS NULL;
      CREATE TABLE api_tokens (
        id           INTEGER PRIMARY KEY,
        name         TEXT NOT NULL,
        scopes       TEXT NOT NULL,
        hash         TEXT NOT NULL UNIQUE,
        fingerprint  TEXT NOT NULL,
        created_at   TEXT NOT NULL,
        last_used_at TEXT,
        revoked_at   TEXT
      );
      CREATE UNIQUE INDEX api_tokens_active_name ON api_tokens(name) WHERE revoked_at IS NULL;
    `,
  },
  {
    version: 2,
    name: 'sessions',
    sql: `
      CREATE TABLE sessions (
        id            TEXT PRIMARY KEY,
        channel_id    INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
        started_at    TEXT NOT NULL,
        ended_at      TEXT,
        source_codec  TEXT,
        source_width  INTEGER,
        source_height INTEGER,
        source_fps    REAL,
        audio_codec   TEXT,
        ladder        TEXT NOT NULL DEFAULT '[]',
        bytes_in      INTEGER NOT NULL DEFAULT 0,
        reconnects    INTEGER NOT NULL DEFAULT 0,
        restarts      INTEGER NOT NULL DEFAULT 0,
        recorded      INTEGER NOT NULL DEFAULT 0,
        end_reason    TEXT
      );
      CREATE INDEX sessions_channel ON sessions(channel_id, started_at);
    `,
  },
  {
    version: 3,
    name: 'engagement: guests, chat, questions, polls, bans, attendance',
    sql: `
      ALTER TABLE channels ADD COLUMN allow_guests INTEGER NOT NULL DEFAULT 0 CHECK (allow_guests IN (0, 1));
      CREATE TABLE chat_messages (
        id         TEXT PRIMARY KEY,
        channel_id INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
        session_id TEXT,
        user_id    TEXT NOT NULL,
        name       TEXT NOT NULL,
        role       TEXT NOT NULL,
        text       TEXT NOT NULL,
        at         INTEGER NOT NULL,
        deleted_at INTEGER
      );
      CREATE INDEX chat_messages_channel ON chat_messages(channel_id, at);
      CREATE TABLE questions (
        id         TEXT PRIMARY KEY,
        channel_id INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
        session_id TEXT,
        user_id    TEXT NOT NULL,
        name       TEXT NOT NULL,
        role       TEXT NOT NULL,
        text       TEXT NOT NULL,
        status     TEXT NOT NULL,
        at         INTEGER NOT NULL
      );
      CREATE INDEX questions_channel ON questions(channel_id, session_id);
      CREATE TABLE question_votes (
        question_id TEXT NOT NULL REFERENCES questions(id) ON DELETE CASCADE,
        user_id     TEXT NOT NULL,
        PRIMARY KEY (question_id, user_id)
      );
      CREATE TABLE polls (
        id         TEXT PRIMARY KEY,
        channel_id INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
        session_id TEXT,
        question   TEXT NOT NULL,
        options    TEXT NOT NULL,
        closed     INTEGER NOT NULL DEFAULT 0,
        at         INTEGER NOT NULL
      );
      CREATE INDEX polls_channel ON polls(channel_id, session_id);
      CREATE TABLE poll_votes (
        poll_id TEXT NOT NULL REFERENCES polls(id) ON DELETE CASCADE,
        user_id TEXT NOT NULL,
        option  INTEGER NOT NULL,
        PRIMARY KEY (poll_id, user_id)
      );
      CREATE TABLE bans (
        channel_id INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
        user_id    TEXT NOT NULL,
        by_user    TEXT NOT NULL,
        at         INTEGER NOT NULL,
        PRIMARY KEY (channel_id, user_id)
      );
      CREATE TABLE attendance (
        key        TEXT PRIMARY KEY,
        channel_id INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
        session_id TEXT,
        user_id    TEXT NOT NULL,
        name       TEXT NOT NULL,
        role       TEXT NOT NULL,
        joined_at  INTEGER NOT NULL,
        left_at    INTEGER
      );
      CREATE INDEX attendance_session ON attendance(session_id, user_id);
    `,
  },
  {
    version: 4,
    name: 'player quality-of-experience beacons',
    sql: `
      CREATE TABLE beacons (
        id           INTEGER PRIMARY KEY,
        channel_id   INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
        session_id   TEXT,
        user_id      TEXT NOT NULL,
        at           INTEGER NOT NULL,
        startup_ms   INTEGER,
        rebuffers    INTEGER NOT NULL,
        rebuffer_ms  INTEGER NOT NULL,
        bitrate      INTEGER,
        rendition    TEXT,
        latency_ms   INTEGER,
        errors       TEXT NOT NULL
      );
      CREATE INDEX beacons_session ON beacons(session_id, user_id);
    `,
  },
  {
    version: 5,
    name: 'scheduled start of a channel',
    sql: `ALTER TABLE channels ADD COLUMN starts_at TEXT;`,
  },
  {
    version: 6,
    name: 'mux overflow and archive',
    sql: `
      ALTER TABLE channels ADD COLUMN mux_live_stream_id TEXT;
      ALTER TABLE channels ADD COLUMN mux_playback_id TEXT;
      ALTER TABLE sessions ADD COLUMN overflow INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE sessions ADD COLUMN mux_asset_id TEXT;
      ALTER TABLE sessions ADD COLUMN mux_playback_id TEXT;
      CREATE TABLE archive_jobs (
        session_id  TEXT PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
        status      TEXT NOT NULL,
        file        TEXT,
        size        INTEGER,
        sha256      TEXT,
        upload_id   TEXT,
        upload_url  TEXT,
        bytes_sent  INTEGER NOT NULL DEFAULT 0,
        asset_id    TEXT,
        playback_id TEXT,
        attempts    INTEGER NOT NULL DEFAULT 0,
        error       TEXT,
        lease_until INTEGER NOT NULL DEFAULT 0,
        updated_at  INTEGER NOT NULL
      );
      CREATE TABLE mux_events (
        id          TEXT PRIMARY KEY,
        type        TEXT NOT NULL,
        received_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 7,
    name: 'mutes survive a restart',
    sql: `
      CREATE TABLE mutes (
        channel_id INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
        user_id    TEXT NOT NULL,
        until      INTEGER NOT NULL,
        PRIMARY KEY (channel_id, user_id)
      );
    `,
  },
  {
    version: 8,
    name: 'mux live stream status from webhooks',
    sql: `
      ALTER TABLE channels ADD COLUMN mux_stream_status TEXT;
      ALTER TABLE channels ADD COLUMN mux_stream_status_at TEXT;
    `,
  },
  {
    version: 9,
    name: 'LTI 1.3 tool keys, platforms, launches; courses and scheduled classes; roster; passback outbox; private playback',
    sql: `
      ALTER TABLE channels ADD COLUMN public INTEGER NOT NULL DEFAULT 0 CHECK (public IN (0, 1));
      CREATE TABLE lti_keys (
        kid         TEXT PRIMARY KEY,
        private_jwk TEXT NOT NULL,
        public_jwk  TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        retired_at  INTEGER
      );
      CREATE TABLE lti_platforms (
        id         INTEGER PRIMARY KEY,
        issuer     TEXT NOT NULL,
        client_id  TEXT NOT NULL,
        auth_url   TEXT NOT NULL,
        token_url  TEXT NOT NULL,
        jwks_url   TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (issuer, client_id)
      );
      CREATE TABLE lti_deployments (
        platform_id   INTEGER NOT NULL REFERENCES lti_platforms(id) ON DELETE CASCADE,
        deployment_id TEXT NOT NULL,
        PRIMARY KEY (platform_id, deployment_id)
      );
      CREATE TABLE lti_logins (
        state          TEXT PRIMARY KEY,
        nonce          TEXT NOT NULL,
        platform_id    INTEGER NOT NULL REFERENCES lti_platforms(id) ON DELETE CASCADE,
        storage_target TEXT,
        expires_at     INTEGER NOT NULL
      );
      CREATE TABLE lti_nonces (
        nonce      TEXT PRIMARY KEY,
        expires_at INTEGER NOT NULL
      );
      CREATE TABLE courses (
        id            INTEGER PRIMARY KEY,
        platform_id   INTEGER REFERENCES lti_platforms(id) ON DELETE SET NULL,
        deployment_id TEXT,
        context_id    TEXT,
        title         TEXT NOT NULL,
        channel_id    INTEGER REFERENCES channels(id) ON DELETE SET NULL,
        nrps_url      TEXT,
        ags_lineitems TEXT,
        ags_scopes    TEXT,
        created_at    TEXT NOT NULL,
        UNIQUE (platform_id, context_id)
      );
      CREATE TABLE classes (
        id             INTEGER PRIMARY KEY,
        course_id      INTEGER REFERENCES courses(id) ON DELETE CASCADE,
        channel_id     INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
        title          TEXT NOT NULL,
        starts_at      INTEGER NOT NULL,
        minutes        INTEGER NOT NULL,
        record         INTEGER NOT NULL CHECK (record IN (0, 1)),
        archive        INTEGER NOT NULL CHECK (archive IN (0, 1)),
        status         TEXT NOT NULL CHECK (status IN ('scheduled', 'cancelled')),
        session_id     TEXT,
        line_item_url  TEXT,
        passback_at    INTEGER,
        created_at     TEXT NOT NULL
      );
      CREATE INDEX classes_by_channel ON classes(channel_id, starts_at);
      CREATE TABLE lti_links (
        platform_id      INTEGER NOT NULL REFERENCES lti_platforms(id) ON DELETE CASCADE,
        resource_link_id TEXT NOT NULL,
        course_id        INTEGER NOT NULL REFERENCES courses(id) ON DELETE CASCADE,
        class_id         INTEGER REFERENCES classes(id) ON DELETE SET NULL,
        line_item_url    TEXT,
        PRIMARY KEY (platform_id, resource_link_id)
      );
      CREATE TABLE roster (
        course_id  INTEGER NOT NULL REFERENCES courses(id) ON DELETE CASCADE,
        user_id    TEXT NOT NULL,
        lti_sub    TEXT NOT NULL,
        name       TEXT NOT NULL,
        email      TEXT,
        role       TEXT NOT NULL,
        active     INTEGER NOT NULL,
        fetched_at INTEGER NOT NULL,
        PRIMARY KEY (course_id, user_id)
      );
      CREATE TABLE lti_outbox (
        id         INTEGER PRIMARY KEY,
        key        TEXT NOT NULL UNIQUE,
        kind       TEXT NOT NULL CHECK (kind IN ('passback', 'score')),
        class_id   INTEGER NOT NULL REFERENCES classes(id) ON DELETE CASCADE,
        payload    TEXT NOT NULL,
        status     TEXT NOT NULL CHECK (status IN ('pending', 'done', 'failed')),
        attempts   INTEGER NOT NULL DEFAULT 0,
        next_at    INTEGER NOT NULL,
        last_error TEXT,
        created_at INTEGER NOT NULL,
        done_at    INTEGER
      );
      CREATE INDEX lti_outbox_due ON lti_outbox(status, next_at);
    `,
  },
  {
    version: 10,
    name: 'reports: reactions and hands per learner, origin traffic per session, encode CPU, watch time in beacons',
    sql: `
      CREATE TABLE engagement_counts (
        session_id TEXT NOT NULL,
        user_id    TEXT NOT NULL,
        reactions  INTEGER NOT NULL DEFAULT 0,
        hands      INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (session_id, user_id)
      );
      CREATE TABLE session_traffic (
        session_id TEXT NOT NULL,
        kind       TEXT NOT NULL CHECK (kind IN ('live', 'replay')),
        rendition  TEXT NOT NULL,
        bytes      INTEGER NOT NULL DEFAULT 0,
        requests   INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (session_id, kind, rendition)
      );
      ALTER TABLE sessions ADD COLUMN encode_cpu_ms INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE beacons ADD COLUMN played_ms INTEGER NOT NULL DEFAULT 0;
    `,
  },
  {
    version: 11,
    name: "channels: latency 'ultra' (Low-Latency HLS)",
    rebuild: true,
    sql: `
      CREATE TABLE channels_new (
        id          INTEGER PRIMARY KEY,
        slug        TEXT NOT NULL UNIQUE,
        title       TEXT NOT NULL,
        ladder      TEXT NOT NULL,
        latency     TEXT NOT NULL CHECK (latency IN ('standard', 'low', 'ultra')),
        record      INTEGER NOT NULL CHECK (record IN (0, 1)),
        archive     INTEGER NOT NULL CHECK (archive IN (0, 1)),
        overflow    TEXT NOT NULL CHECK (overflow IN ('mux', 'degrade', 'refuse')),
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL,
        allow_guests INTEGER NOT NULL DEFAULT 0 CHECK (allow_guests IN (0, 1)),
        starts_at TEXT,
        mux_live_stream_id TEXT,
        mux_playback_id TEXT,
        mux_stream_status TEXT,
        mux_stream_status_at TEXT,
        public INTEGER NOT NULL DEFAULT 0 CHECK (public IN (0, 1))
      );
      INSERT INTO channels_new (id, slug, title, ladder, latency, record, archive, overflow, created_at, updated_at,
        allow_guests, starts_at, mux_live_stream_id, mux_playback_id, mux_stream_status, mux_stream_status_at, public)
        SELECT id, slug, title, ladder, latency, record, archive, overflow, created_at, updated_at,
        allow_guests, starts_at, mux_live_stream_id, mux_playback_id, mux_stream_status, mux_stream_status_at, public FROM channels;
      DROP TABLE channels;
      ALTER TABLE channels_new RENAME TO channels;
    `,
  },
  {
    version: 12,
    name: 'security: API tokens limited to channels, a join-token epoch per channel, launches bound to the browser, indexes for expiring logins and beacons',
    sql: `
      ALTER TABLE api_tokens ADD COLUMN channels TEXT;
      ALTER TABLE channels ADD COLUMN join_tokens_after INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE lti_logins ADD COLUMN binding TEXT;
      ALTER TABLE lti_platforms ADD COLUMN service_hosts TEXT NOT NULL DEFAULT '';
      ALTER TABLE classes ADD COLUMN confirmed INTEGER NOT NULL DEFAULT 1;
      CREATE INDEX lti_logins_expiry ON lti_logins(expires_at);
      CREATE INDEX lti_nonces_expiry ON lti_nonces(expires_at);
      CREATE INDEX beacons_channel_at ON beacons(channel_id, at);
      CREATE INDEX beacons_at ON beacons(at);
    `,
  },
  {
    version: 13,
    name: 'read model: a version per table the in-memory read model copies, bumped by triggers on every write from any process',
    sql: `
      CREATE TABLE read_versions (name TEXT PRIMARY KEY, version INTEGER NOT NULL DEFAULT 0);
      INSERT INTO read_versions (name) VALUES ('channels'), ('stream_keys'), ('classes'), ('sessions'), ('platforms');
      CREATE TRIGGER rv_channels_i AFTER INSERT ON channels BEGIN UPDATE read_versions SET version = version + 1 WHERE name = 'channels'; END;
      CREATE TRIGGER rv_channels_u AFTER UPDATE ON channels BEGIN UPDATE read_versions SET version = version + 1 WHERE name = 'channels'; END;
      CREATE TRIGGER rv_channels_d AFTER DELETE ON channels BEGIN UPDATE read_versions SET version = version + 1 WHERE name = 'channels'; END;
      CREATE TRIGGER rv_keys_i AFTER INSERT ON stream_keys BEGIN UPDATE read_versions SET version = version + 1 WHERE name = 'stream_keys'; END;
      CREATE TRIGGER rv_keys_u AFTER UPDATE OF revoked_at, hash, channel_id ON stream_keys BEGIN UPDATE read_versions SET version = version + 1 WHERE name = 'stream_keys'; END;
      CREATE TRIGGER rv_keys_d AFTER DELETE ON stream_keys BEGIN UPDATE read_versions SET version = version + 1 WHERE name = 'stream_keys'; END;
      CREATE TRIGGER rv_classes_i AFTER INSERT ON classes BEGIN UPDATE read_versions SET version = version + 1 WHERE name = 'classes'; END;
      CREATE TRIGGER rv_classes_u AFTER UPDATE ON classes BEGIN UPDATE read_versions SET version = version + 1 WHERE name = 'classes'; END;
      CREATE TRIGGER rv_classes_d AFTER DELETE ON classes BEGIN UPDATE read_versions SET version = version + 1 WHERE name = 'classes'; END;
      CREATE TRIGGER rv_sessions_i AFTER INSERT ON sessions BEGIN UPDATE read_versions SET version = version + 1 WHERE name = 'sessions'; END;
      CREATE TRIGGER rv_sessions_u AFTER UPDATE OF ended_at ON sessions BEGIN UPDATE read_versions SET version = version + 1 WHERE name = 'sessions'; END;
      CREATE TRIGGER rv_sessions_d AFTER DELETE ON sessions BEGIN UPDATE read_versions SET version = version + 1 WHERE name = 'sessions'; END;
      CREATE TRIGGER rv_plat_i AFTER INSERT ON lti_platforms BEGIN UPDATE read_versions SET version = version + 1 WHERE name = 'platforms'; END;
      CREATE TRIGGER rv_plat_u AFTER UPDATE ON lti_platforms BEGIN UPDATE read_versions SET version = version + 1 WHERE name = 'platforms'; END;
      CREATE TRIGGER rv_plat_d AFTER DELETE ON lti_platforms BEGIN UPDATE read_versions SET version = version + 1 WHERE name = 'platforms'; END;
      CREATE TRIGGER rv_dep_i AFTER INSERT ON lti_deployments BEGIN UPDATE read_versions SET version = version + 1 WHERE name = 'platforms'; END;
      CREATE TRIGGER rv_dep_u AFTER UPDATE ON lti_deployments BEGIN UPDATE read_versions SET version = version + 1 WHERE name = 'platforms'; END;
      CREATE TRIGGER rv_dep_d AFTER DELETE ON lti_deployments BEGIN UPDATE read_versions SET version = version + 1 WHERE name = 'platforms'; END;
    `,
  },
  {
    version: 14,
    name: 'channels: an encoding profile (lecture or motion) for the ladder',
    sql: `
      ALTER TABLE channels ADD COLUMN profile TEXT NOT NULL DEFAULT 'lecture' CHECK (profile IN ('lecture', 'motion'));
    `,
  },
  {
    version: 15,
    name: 'sessions: how the top rung was delivered (passed through or encoded) and why',
    sql: `
      ALTER TABLE sessions ADD COLUMN top_rung TEXT;
    `,
  },
  {
    version: 16,
    name: 'sessions: the box (node.name) that runs the class, so a box recovers only its own on a shared store',
    sql: `
      ALTER TABLE sessions ADD COLUMN node TEXT;
    `,
  },
  {
    version: 17,
    name: 'boxes sharing a store: their heartbeats, named leases for work that runs once, one box per live channel',
    sql: `
      CREATE TABLE nodes (
        name        TEXT PRIMARY KEY,
        url         TEXT NOT NULL,
        rtmp        TEXT NOT NULL,
        started_at  INTEGER NOT NULL,
        seen_at     INTEGER NOT NULL,
        lease_until INTEGER NOT NULL,
        load        TEXT NOT NULL DEFAULT '{}'
      );
      CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, until INTEGER NOT NULL);
      CREATE TABLE channel_claims (
        channel_id INTEGER PRIMARY KEY REFERENCES channels(id) ON DELETE CASCADE,
        node       TEXT NOT NULL,
        session_id TEXT NOT NULL,
        until      INTEGER NOT NULL
      );
    `,
  },
  {
    version: 18,
    name: 'sessions: the way the class came in (rtmp, or whip: a browser or OBS over WebRTC)',
    sql: `
      ALTER TABLE sessions ADD COLUMN ingest TEXT;
    `,
  },
  {
    version: 19,
    name: 'captions: a channel says whether a class is captioned and in which languages; the cues of each session',
    sql: `
      ALTER TABLE channels ADD COLUMN captions TEXT NOT NULL DEFAULT 'off';
      ALTER TABLE channels ADD COLUMN caption_languages TEXT NOT NULL DEFAULT 'en';
      CREATE TABLE captions (
        id         TEXT PRIMARY KEY,
        session_id TEXT NOT NULL,
        lang       TEXT NOT NULL,
        start_ms   INTEGER NOT NULL,
        end_ms     INTEGER NOT NULL,
        text       TEXT NOT NULL,
        by_user    TEXT NOT NULL,
        at         INTEGER NOT NULL
      );
      CREATE INDEX captions_session ON captions (session_id, start_ms);
    `,
  },
  {
    version: 20,
    name: 'the stage: who came up in a session and when they stepped down',
    sql: `
      CREATE TABLE stage_spells (
        session_id TEXT NOT NULL,
        user_id    TEXT NOT NULL,
        name       TEXT NOT NULL,
        joined_at  INTEGER NOT NULL,
        left_at    INTEGER,
        PRIMARY KEY (session_id, user_id, joined_at)
      );
    `,
  },
];

export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
