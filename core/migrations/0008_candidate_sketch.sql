-- A sketch of each indexed document's signature (the low 16 bits of every value), so that the
-- candidates of one new document are verified (`plugins.lsh.min_jaccard`) without reading a
-- single signature or text. Rows indexed before this migration have none and are never dropped;
-- the next forced analysis writes them all.
ALTER TABLE candidate_index ADD COLUMN sketch BLOB;
