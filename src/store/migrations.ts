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
];

export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
