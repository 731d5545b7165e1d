-- The case and document index (sdi) and the benefit index (yi): indexes/, docs/indexes.md.
--
-- index_object holds the current state of every indexed record (sag, dokument,
-- bevilling, effektuering) as the sender last sent it, plus the columns the
-- access rules and the overviews filter on, denormalised at write time.  A
-- removed record keeps its row as a tombstone (removed_at, changed_at) with
-- its data deleted, so an older import arriving late cannot bring it back.
--
-- index_registration is the registration history: when the index learned
-- what (one row per accepted write, registration periods closed by the next).
-- The current registration's record is index_object.record; a registration
-- keeps its own copy once it is superseded.  A removal deletes the record data
-- of every registration too.
--
-- changed_xid is the writing transaction's id: "changed since" pages by it and
-- only returns rows of transactions older than every one still running, so a
-- transaction that commits late is never skipped (DOMAIN.md §2).

CREATE TABLE index_object (
    uuid              uuid PRIMARY KEY,
    kind              text NOT NULL
                      CONSTRAINT index_object_kind CHECK (kind IN ('sag', 'dokument', 'bevilling', 'effektuering')),
    municipality_code smallint NOT NULL REFERENCES municipality (code),
    master_system     uuid NOT NULL,
    changed_at        timestamptz NOT NULL,
    registration_no   integer NOT NULL,
    removed_at        timestamptz,
    record            jsonb,
    kle               text,
    unit              uuid,
    unit_path         uuid[] NOT NULL DEFAULT '{}',
    sensitivity       text,
    parties           text[] NOT NULL DEFAULT '{}',
    sort_date         date,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    changed_xid       xid8 NOT NULL DEFAULT pg_current_xact_id(),
    search_version    bigint NOT NULL DEFAULT 0,
    CONSTRAINT index_object_removed_has_no_data CHECK (removed_at IS NULL OR record IS NULL)
);
CREATE INDEX index_object_parties ON index_object USING gin (parties) WHERE removed_at IS NULL;
CREATE INDEX index_object_changes ON index_object (municipality_code, changed_xid, uuid);
CREATE INDEX index_object_unit ON index_object (unit) WHERE removed_at IS NULL;
-- DOMAIN.md §5: a case number is unique per owner (and object type).
CREATE UNIQUE INDEX index_object_case_number ON index_object (municipality_code, (record ->> 'case_number'))
    WHERE kind = 'sag' AND removed_at IS NULL;

-- Relations between indexed records (a case's documents, a document's cases, a payment's grant, ...),
-- kept in both directions' reach by an index on the target.
CREATE TABLE index_relation (
    from_uuid uuid NOT NULL REFERENCES index_object (uuid) ON DELETE CASCADE,
    relation  text NOT NULL,
    to_uuid   uuid NOT NULL,
    PRIMARY KEY (from_uuid, relation, to_uuid)
);
CREATE INDEX index_relation_to ON index_relation (to_uuid, relation);

CREATE TABLE index_registration (
    uuid       uuid NOT NULL REFERENCES index_object (uuid) ON DELETE CASCADE,
    no         integer NOT NULL,
    registered tstzrange NOT NULL,
    changed_at timestamptz NOT NULL,
    operation  text NOT NULL
               CONSTRAINT index_registration_operation CHECK (operation IN ('import', 'update', 'remove', 'scrub')),
    system_id  uuid,
    record     jsonb,
    PRIMARY KEY (uuid, no)
);

-- Bulk loads by job name (POST .../bulk is one request; the CLI resumes by job).
CREATE TABLE index_bulk_job (
    municipality_code smallint NOT NULL REFERENCES municipality (code),
    name              text NOT NULL CONSTRAINT index_bulk_job_name_length CHECK (length(name) BETWEEN 1 AND 200),
    input_hash        text NOT NULL,
    total             integer NOT NULL,
    position          integer NOT NULL DEFAULT 0,
    accepted          integer NOT NULL DEFAULT 0,
    unchanged         integer NOT NULL DEFAULT 0,
    rejected          integer NOT NULL DEFAULT 0,
    started_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    finished_at       timestamptz,
    PRIMARY KEY (municipality_code, name)
);

-- Search: every written row gets a fresh version (migration 0001) and is queued for Elasticsearch.  The
-- queueing is per statement, from the transition table: a COPY of a thousand records queues them in one
-- INSERT instead of a thousand trigger calls that each turn the whole row into JSON.
CREATE TRIGGER index_object_search_version BEFORE INSERT OR UPDATE ON index_object
    FOR EACH ROW EXECUTE FUNCTION search_stamp_version();

CREATE FUNCTION index_object_enqueue() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO search_outbox (kind, object_id) SELECT 'indeks', uuid::text FROM old_rows;
    ELSE
        INSERT INTO search_outbox (kind, object_id) SELECT 'indeks', uuid::text FROM new_rows;
    END IF;
    PERFORM pg_notify('search_outbox', 'indeks');
    RETURN NULL;
END
$$;
CREATE TRIGGER index_object_outbox_insert AFTER INSERT ON index_object
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION index_object_enqueue();
CREATE TRIGGER index_object_outbox_update AFTER UPDATE ON index_object
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION index_object_enqueue();
CREATE TRIGGER index_object_outbox_delete AFTER DELETE ON index_object
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION index_object_enqueue();
