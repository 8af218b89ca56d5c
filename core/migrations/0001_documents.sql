-- Documents as synced from Paperless, their text, signatures and the persisted candidate index.

CREATE TABLE documents (
    id                 INTEGER PRIMARY KEY,           -- the Paperless document id
    title              TEXT NOT NULL DEFAULT '',
    correspondent      TEXT,
    document_type      TEXT,
    storage_path       TEXT,
    tags               TEXT NOT NULL DEFAULT '[]',    -- JSON array of names (document_tags indexes it)
    custom_fields      TEXT NOT NULL DEFAULT '[]',    -- JSON array of [name, value]
    created_date       TEXT,                          -- ISO date
    added_at           TEXT,                          -- ISO instant, UTC
    modified_at        TEXT,                          -- ISO instant, UTC
    original_file_name TEXT,
    mime_type          TEXT,
    original_checksum  TEXT,
    original_size      INTEGER,
    archive_size       INTEGER,
    fingerprint        TEXT NOT NULL,                 -- hash of the fields a sync compares
    processing_status  TEXT NOT NULL DEFAULT 'pending'
                       CHECK (processing_status IN ('pending', 'completed')),
    synced_at          TEXT NOT NULL
);
CREATE INDEX documents_correspondent ON documents (correspondent);
CREATE INDEX documents_document_type ON documents (document_type);
CREATE INDEX documents_processing_status ON documents (processing_status);
CREATE INDEX documents_original_checksum ON documents (original_checksum)
    WHERE original_checksum IS NOT NULL;
CREATE INDEX documents_title ON documents (title COLLATE NOCASE);

CREATE TABLE document_tags (
    document_id INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    tag         TEXT NOT NULL,
    PRIMARY KEY (document_id, tag)
) WITHOUT ROWID;
CREATE INDEX document_tags_tag ON document_tags (tag, document_id);

CREATE TABLE content (
    document_id     INTEGER PRIMARY KEY REFERENCES documents (id) ON DELETE CASCADE,
    full_text       TEXT NOT NULL,
    normalized_text TEXT NOT NULL,
    word_count      INTEGER NOT NULL,
    content_hash    TEXT NOT NULL                     -- sha256 of normalized_text
);
CREATE INDEX content_content_hash ON content (content_hash);

-- Keyed by content hash + the algorithm's key (algorithm, parameters, version): a changed text
-- or changed parameters can never pick up an old signature.
CREATE TABLE signatures (
    content_hash TEXT NOT NULL,
    algorithm    TEXT NOT NULL,
    signature    BLOB NOT NULL,
    PRIMARY KEY (content_hash, algorithm)
) WITHOUT ROWID;

-- The persisted LSH index: one row per (band, bucket, document).
CREATE TABLE candidate_bands (
    band        INTEGER NOT NULL,
    bucket      INTEGER NOT NULL,
    document_id INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    PRIMARY KEY (band, bucket, document_id)
) WITHOUT ROWID;
CREATE INDEX candidate_bands_document ON candidate_bands (document_id);

-- What each indexed document was indexed from, so an unchanged library is not re-indexed.
CREATE TABLE candidate_index (
    document_id  INTEGER PRIMARY KEY REFERENCES documents (id) ON DELETE CASCADE,
    content_hash TEXT NOT NULL,
    algorithm    TEXT NOT NULL,
    num_bands    INTEGER NOT NULL
);
