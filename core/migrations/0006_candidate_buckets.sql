-- The LSH index, re-laid for write speed: one row per (bucket, document) under a single-integer
-- key (a bucket hash already mixes in its band) and no secondary index, so a full run writes
-- its buckets in key order. Each document's buckets are kept as one blob in `candidate_index`,
-- which is how a document is removed without an index on `document_id`. Buckets of a document
-- deleted from the library stay behind unseen (a query joins `candidate_index`) until the next
-- forced analysis clears the index.
-- The old layout cannot be converted in SQL, so every document is analysed again (signatures,
-- keyed by content hash, are reused; reviewed groups keep their status).
DROP TABLE candidate_bands;
DROP TABLE candidate_index;

CREATE TABLE candidate_bands (
    bucket      INTEGER NOT NULL,
    document_id INTEGER NOT NULL,
    PRIMARY KEY (bucket, document_id)
) WITHOUT ROWID;

CREATE TABLE candidate_index (
    document_id INTEGER PRIMARY KEY REFERENCES documents (id) ON DELETE CASCADE,
    buckets     BLOB NOT NULL                          -- int64 bucket hashes, little-endian
);

UPDATE documents SET processing_status = 'pending';
