-- The data key version that sealed the encrypted fields' values in a
-- revision (NULL: the revision holds none), so key status can count them
-- and a re-encryption find those under an older version without parsing
-- every revision.
ALTER TABLE record_revisions ADD COLUMN sealed_key BIGINT;
CREATE INDEX record_revisions_sealed_key ON record_revisions (sealed_key)
    WHERE sealed_key IS NOT NULL;
