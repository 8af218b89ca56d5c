-- The LSH index in pages: the entries of all buckets whose hash starts with the same 16 bits
-- share one row (`plugins.lsh.LshIndex`). One row per (bucket, document) was 6.4 M rows at 100k
-- documents, and writing them was the largest single cost of a full analysis' store work.
-- The old rows cannot be converted in SQL, so every document is analysed again (signatures,
-- keyed by content hash, are reused; reviewed groups keep their status).
DROP TABLE candidate_bands;
DELETE FROM candidate_index;

CREATE TABLE candidate_pages (
    page    INTEGER PRIMARY KEY,  -- the top 16 bits of its buckets' hashes
    entries BLOB NOT NULL         -- (low 32 bits of the hash: <u4, document: <i8) records
);

UPDATE documents SET processing_status = 'pending';
