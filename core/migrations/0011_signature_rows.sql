-- Signatures as ordinary rows. In a WITHOUT ROWID table a row may keep only about a quarter of a
-- page in the B-tree, so every 2 KB signature spilled onto an overflow page of its own: writing
-- one logged a leaf page and an overflow page (1.2 GB of log for the 100k signatures of a full
-- analysis), and reading one cost two more page reads. A rowid table keeps the whole row on its
-- leaf page, two to a page, and the unique index finds it: half the log, a third of the reads.
CREATE TABLE signatures_by_row (
    content_hash TEXT NOT NULL,
    algorithm    TEXT NOT NULL,
    signature    BLOB NOT NULL,
    UNIQUE (content_hash, algorithm)
);
INSERT INTO signatures_by_row (content_hash, algorithm, signature)
    SELECT content_hash, algorithm, signature FROM signatures;
DROP TABLE signatures;
ALTER TABLE signatures_by_row RENAME TO signatures;
