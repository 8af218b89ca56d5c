-- The template feature extraction changed (stamp dates, dates and numbers split by OCR spaces):
-- drop the stored features so that the next analysis extracts them again. Stored pair scores
-- keep their old penalty until their documents are analysed again (`dupeless analyze --force`).
UPDATE content SET features = NULL;
