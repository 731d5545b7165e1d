-- The bitemporal object store (docs/bitemporal.md): `bt_create_type(name)`
-- creates the three tables of one object type.  Feature migrations call it,
-- e.g. SELECT bt_create_type('klasse').
--
--   <name>               one row per object: identity, owner, current lifecycle
--                        and registration number (the ETag)
--   <name>_registration  one row per write (registrering): its period of
--                        registration time, lifecycle code, actor and note
--   <name>_fact          one row per value of one field over one period of
--                        valid time (virkning), believed during one period of
--                        registration time.  A write closes the registration
--                        period of the facts it supersedes and inserts only the
--                        changed ones: no full copy per update.
--
-- GiST exclusion constraints make it impossible for two facts of the same
-- field (and, for 0..n relations, the same target) to overlap in both valid
-- and registration time, and for two registrations of an object to overlap.

CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE FUNCTION bt_create_type(name text) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    IF name !~ '^[a-z][a-z0-9_]{0,40}$' THEN
        RAISE EXCEPTION 'invalid object type name %', name;
    END IF;
    EXECUTE format($sql$
        CREATE TABLE %1$I (
            uuid              uuid PRIMARY KEY,
            municipality_code smallint REFERENCES municipality (code),
            lifecycle         text NOT NULL CONSTRAINT %2$I
                              CHECK (lifecycle IN ('Opstaaet', 'Importeret', 'Rettet', 'Passiveret', 'Slettet')),
            registration_no   integer NOT NULL,
            created_at        timestamptz NOT NULL,
            updated_at        timestamptz NOT NULL
        );
        CREATE TABLE %3$I (
            uuid      uuid NOT NULL REFERENCES %1$I (uuid),
            no        integer NOT NULL,
            period    tstzrange NOT NULL,
            lifecycle text NOT NULL,
            actor     text,
            note      text,
            PRIMARY KEY (uuid, no),
            CONSTRAINT %4$I EXCLUDE USING gist (uuid WITH =, period WITH &&)
        );
        CREATE TABLE %5$I (
            id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            uuid         uuid NOT NULL REFERENCES %1$I (uuid),
            field        text NOT NULL,
            key          text NOT NULL DEFAULT '',
            value        jsonb NOT NULL,
            valid        tstzrange NOT NULL CONSTRAINT %6$I CHECK (NOT isempty(valid)),
            registration tstzrange NOT NULL,
            CONSTRAINT %7$I EXCLUDE USING gist (uuid WITH =, field WITH =, key WITH =, valid WITH &&,
                                                registration WITH &&)
        );
        CREATE INDEX %8$I ON %5$I USING gist (uuid, registration, valid);
    $sql$,
        name, name || '_lifecycle', name || '_registration', name || '_registration_no_overlap',
        name || '_fact', name || '_fact_valid_nonempty', name || '_fact_no_overlap', name || '_fact_as_of');
END
$fn$;
