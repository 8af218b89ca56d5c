-- The template features (dates, amounts, identifiers, times) of each document's raw text, as
-- JSON, stored the first time a scorer extracts them: every later analysis and check reads them
-- instead of extracting them again. A sync that changes the text resets them to NULL; a release
-- that changes the extraction clears the column in a migration.
ALTER TABLE content ADD COLUMN features TEXT;
