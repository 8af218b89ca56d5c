-- Template features move to a table of their own. In the content row, storing ~100 bytes of
-- features made SQLite rewrite the whole row (raw and normalised text with their overflow
-- pages, ~6 KB): 12 KB of log per document during an analysis.
CREATE TABLE document_features (
    document_id INTEGER PRIMARY KEY REFERENCES documents (id) ON DELETE CASCADE,
    features    TEXT NOT NULL                     -- JSON: dates, amounts, identifiers, times
);
INSERT INTO document_features (document_id, features)
    SELECT document_id, features FROM content WHERE features IS NOT NULL;
ALTER TABLE content DROP COLUMN features;
