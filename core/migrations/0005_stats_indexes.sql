-- Document statistics without reading every text: a partial index of the documents that have
-- any text (counted through it, see server/documents.py) and an index for the word counts.

CREATE INDEX content_with_text ON content (document_id) WHERE TRIM(full_text) != '';
CREATE INDEX content_word_count ON content (word_count);
