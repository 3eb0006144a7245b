// Numbered schema migrations. Append only: a released migration is never edited, only followed by a new one.

export interface Migration {
  version: number;
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
];

export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
