-- Previewed delete plans, and the documents dupeless itself moved to the Paperless trash.

-- A "delete non-primary" plan: shown by a preview, executed once by confirming its token before
-- it expires. `plan` keeps each group's primary, the documents to delete and the `modified`
-- instant every member had, which the job compares with Paperless right before deleting.
CREATE TABLE delete_plans (
    token        TEXT PRIMARY KEY,
    plan         TEXT NOT NULL,                       -- JSON
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    confirmed_at TEXT,                                -- set once, when a confirmation claims it
    job_id       TEXT                                 -- the job that executes it
);
CREATE INDEX delete_plans_expires_at ON delete_plans (expires_at);

-- What dupeless moved to the trash, so that emptying the trash can default to exactly these.
-- No foreign key: the document leaves `documents` at the next sync.
CREATE TABLE trashed_documents (
    document_id INTEGER PRIMARY KEY,                  -- the Paperless id
    group_id    TEXT,
    job_id      TEXT,
    trashed_at  TEXT NOT NULL
);
