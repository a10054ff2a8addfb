-- Which fields a record was created with: the table's schema version
-- when a field was added (NULL: before this migration), and the one a
-- create's revision was written under (NULL: other revisions, and creates
-- from before, which hold their values). A create's revision holds no
-- values; reading history derives them and leaves out fields added later.
ALTER TABLE data_fields ADD COLUMN added_in BIGINT;
ALTER TABLE record_revisions ADD COLUMN schema_version BIGINT;
