-- The first stored item of a content hash is found by one index probe per hash, whatever the
-- planner knows of the table: (content_hash, id) gives the rows of a hash in insertion order
-- (it replaces the index on content_hash alone, whose lookups of a batch's hashes became a
-- sequential scan on a table not analyzed yet).

CREATE INDEX items_content_hash_first_idx ON items (content_hash, id);
DROP INDEX items_content_hash_idx;
