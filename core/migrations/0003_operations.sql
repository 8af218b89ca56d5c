-- Jobs, runtime configuration, sync state and Paperless hook events.

CREATE TABLE jobs (
    id               TEXT PRIMARY KEY,
    type             TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
    progress         REAL NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),
    progress_message TEXT,
    params           TEXT NOT NULL DEFAULT '{}',      -- JSON
    checkpoint       TEXT,                            -- JSON, for jobs that resume after a crash
    result_json      TEXT,
    error_message    TEXT,
    created_at       TEXT NOT NULL,
    started_at       TEXT,
    completed_at     TEXT
);
-- At most one active job per type, enforced by the database itself.
CREATE UNIQUE INDEX jobs_one_active_per_type ON jobs (type) WHERE status IN ('pending', 'running');
CREATE INDEX jobs_type_created ON jobs (type, created_at);
CREATE INDEX jobs_status_created ON jobs (status, created_at);
CREATE INDEX jobs_created ON jobs (created_at);

CREATE TABLE app_config (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE sync_state (
    source              TEXT PRIMARY KEY,             -- fetch provider + location
    cursor              TEXT,                         -- ISO instant: newest `modified` seen
    last_sync_at        TEXT,
    last_full_sync_at   TEXT,
    last_document_count INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE hook_events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    document_id  INTEGER NOT NULL,
    source       TEXT NOT NULL,                       -- post_consume | webhook | cli
    payload      TEXT NOT NULL DEFAULT '{}',          -- JSON, secrets removed
    status       TEXT NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'processing', 'done', 'failed')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    verdict      TEXT,                                -- JSON
    error        TEXT,
    received_at  TEXT NOT NULL,
    processed_at TEXT
);
CREATE INDEX hook_events_status ON hook_events (status, id);
CREATE INDEX hook_events_document ON hook_events (document_id);
