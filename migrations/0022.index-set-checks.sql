-- The index tables' references, checked once per statement instead of once per row.
--
-- An initial load writes about 3.5 referencing rows per record (the record's municipality, its first
-- registration, 1.5 relations).  As foreign keys, each was a row trigger running its own lookup and
-- locking the referenced row (FOR KEY SHARE: a WAL record and a dirtied page per check): about half of
-- PostgreSQL's CPU in a load, 255,000 checks for 73,000 records.  The same rules are now statement
-- triggers over the transition tables: one anti-join per statement, raising the same SQLSTATE
-- (foreign_key_violation) under the same constraint names, so errors read as before.
--
-- What the row locks gave and these checks do not: a row being deleted by another transaction at
-- the same moment.  Nothing deletes index_object rows (a removal keeps a tombstone) and municipalities
-- are reference data; a manual DELETE still cascades to registrations and relations (below), and a
-- municipality with index rows cannot be deleted.
-- (search_version: a column default for inserts, the row trigger for updates only.)

ALTER TABLE index_registration DROP CONSTRAINT index_registration_uuid_fkey;
ALTER TABLE index_relation DROP CONSTRAINT index_relation_from_uuid_fkey;
ALTER TABLE index_object DROP CONSTRAINT index_object_municipality_code_fkey;

-- TG_ARGV[0]: the column naming the record; TG_ARGV[1]: the constraint name the error carries.
CREATE FUNCTION index_record_check() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    missing uuid;
BEGIN
    EXECUTE format('SELECT n.%1$I FROM new_rows n '
                   'WHERE NOT EXISTS (SELECT FROM index_object o WHERE o.uuid = n.%1$I) LIMIT 1', TG_ARGV[0])
       INTO missing;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION '%: no index_object %', TG_TABLE_NAME, missing
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = TG_ARGV[1], TABLE = TG_TABLE_NAME;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER index_registration_check_insert AFTER INSERT ON index_registration REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION index_record_check('uuid', 'index_registration_uuid_fkey');
CREATE TRIGGER index_registration_check_update AFTER UPDATE ON index_registration REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION index_record_check('uuid', 'index_registration_uuid_fkey');
CREATE TRIGGER index_relation_check_insert AFTER INSERT ON index_relation REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION index_record_check('from_uuid', 'index_relation_from_uuid_fkey');
CREATE TRIGGER index_relation_check_update AFTER UPDATE ON index_relation REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION index_record_check('from_uuid', 'index_relation_from_uuid_fkey');

-- Both sides of index_object_municipality_code_fkey: a record's municipality exists, and a
-- municipality's code cannot go (deleted, or changed) while records name it.
CREATE FUNCTION index_municipality_check() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    bad smallint;
    problem text;
BEGIN
    IF TG_TABLE_NAME = 'index_object' THEN
        SELECT n.municipality_code INTO bad FROM (SELECT DISTINCT municipality_code FROM new_rows) n
         WHERE NOT EXISTS (SELECT FROM municipality m WHERE m.code = n.municipality_code) LIMIT 1;
        problem := 'index_object: no municipality %s';
    ELSIF TG_OP = 'DELETE' THEN  -- (new_rows exists only for an update: two statements)
        SELECT d.code INTO bad FROM old_rows d
         WHERE EXISTS (SELECT FROM index_object o WHERE o.municipality_code = d.code) LIMIT 1;
        problem := 'municipality %s still has records in the index';
    ELSE
        SELECT d.code INTO bad FROM old_rows d
         WHERE NOT EXISTS (SELECT FROM new_rows n WHERE n.code = d.code)
           AND EXISTS (SELECT FROM index_object o WHERE o.municipality_code = d.code) LIMIT 1;
        problem := 'municipality %s still has records in the index';
    END IF;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION USING MESSAGE = format(problem, bad), ERRCODE = 'foreign_key_violation',
              CONSTRAINT = 'index_object_municipality_code_fkey', TABLE = TG_TABLE_NAME;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER index_object_check_municipality_insert AFTER INSERT ON index_object
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION index_municipality_check();
CREATE TRIGGER index_object_check_municipality_update AFTER UPDATE ON index_object
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION index_municipality_check();
CREATE TRIGGER municipality_index_restrict_delete AFTER DELETE ON municipality
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION index_municipality_check();
CREATE TRIGGER municipality_index_restrict_update AFTER UPDATE ON municipality
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION index_municipality_check();

-- ON DELETE CASCADE, per statement.
CREATE FUNCTION index_object_cascade() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM index_registration r USING old_rows d WHERE r.uuid = d.uuid;
    DELETE FROM index_relation r USING old_rows d WHERE r.from_uuid = d.uuid;
    RETURN NULL;
END
$$;
CREATE TRIGGER index_object_cascade AFTER DELETE ON index_object
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION index_object_cascade();

ALTER TABLE index_object ALTER COLUMN search_version SET DEFAULT nextval('search_version_seq');
DROP TRIGGER index_object_search_version ON index_object;
CREATE TRIGGER index_object_search_version BEFORE UPDATE ON index_object
    FOR EACH ROW EXECUTE FUNCTION search_stamp_version();
