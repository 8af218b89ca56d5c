-- Duplicate groups, their members, the scored pairs behind them and the user's pair decisions.

CREATE TABLE duplicate_groups (
    id                  TEXT PRIMARY KEY,
    confidence          REAL NOT NULL,
    components          TEXT NOT NULL DEFAULT '{}',   -- JSON: component name -> group value
    status              TEXT NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'false_positive', 'ignored', 'deleted')),
    member_count        INTEGER NOT NULL DEFAULT 0,
    primary_document_id INTEGER REFERENCES documents (id) ON DELETE SET NULL,
    primary_set_by_user INTEGER NOT NULL DEFAULT 0,
    algorithm_version   TEXT NOT NULL DEFAULT '',
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
CREATE INDEX duplicate_groups_status_confidence ON duplicate_groups (status, confidence);
CREATE INDEX duplicate_groups_confidence ON duplicate_groups (confidence);
CREATE INDEX duplicate_groups_created_at ON duplicate_groups (created_at);
CREATE INDEX duplicate_groups_member_count ON duplicate_groups (member_count);

CREATE TABLE group_members (
    group_id    TEXT NOT NULL REFERENCES duplicate_groups (id) ON DELETE CASCADE,
    document_id INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, document_id)
) WITHOUT ROWID;
CREATE INDEX group_members_document ON group_members (document_id);

-- Every verified pair keeps its components and explanation, so a weight change recomputes
-- confidences exactly and the API can say why two documents matched.
CREATE TABLE pair_scores (
    document_a  INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    document_b  INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    confidence  REAL NOT NULL,
    components  TEXT NOT NULL,                        -- JSON: name -> value
    explanation TEXT NOT NULL DEFAULT '{}',           -- JSON
    scored_at   TEXT NOT NULL,
    PRIMARY KEY (document_a, document_b),
    CHECK (document_a < document_b)
) WITHOUT ROWID;
CREATE INDEX pair_scores_document_b ON pair_scores (document_b);

-- A user's verdict on a pair outlives any group: no foreign keys, so it survives a document
-- leaving and coming back from the Paperless trash.
CREATE TABLE pair_decisions (
    document_a INTEGER NOT NULL,
    document_b INTEGER NOT NULL,
    decision   TEXT NOT NULL CHECK (decision IN ('not_duplicate')),
    decided_at TEXT NOT NULL,
    PRIMARY KEY (document_a, document_b),
    CHECK (document_a < document_b)
) WITHOUT ROWID;
