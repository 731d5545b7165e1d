-- The transactional outbox that feeds Elasticsearch (see docs/architecture.md).
--
-- Indexed tables get two triggers: a BEFORE trigger stamping each written row
-- with a fresh `search_version`, and an AFTER trigger queueing (kind, key) in
-- search_outbox in the same transaction.  Versions and outbox ids come from one
-- sequence, so a deletion's outbox id is larger than every version the object
-- had: Elasticsearch's external versioning then never lets an older state
-- overwrite a newer one.  The indexer deletes outbox rows it has delivered, so
-- a transaction that commits late (with a smaller id) is never skipped.

CREATE SEQUENCE search_version_seq;

CREATE TABLE search_outbox (
    id              bigint PRIMARY KEY DEFAULT nextval('search_version_seq'),
    kind            text NOT NULL,
    object_id       text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text
);
CREATE INDEX search_outbox_due ON search_outbox (next_attempt_at, id);
CREATE INDEX search_outbox_kind ON search_outbox (kind, created_at);

CREATE FUNCTION search_stamp_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_version := nextval('search_version_seq');
    RETURN NEW;
END
$$;

-- TG_ARGV[0]: the search kind; TG_ARGV[1]: the key column.
CREATE FUNCTION search_enqueue() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    new_key text;
    old_key text;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        old_key := to_jsonb(OLD) ->> TG_ARGV[1];
    END IF;
    IF TG_OP <> 'DELETE' THEN
        new_key := to_jsonb(NEW) ->> TG_ARGV[1];
    END IF;
    IF old_key IS NOT NULL AND old_key IS DISTINCT FROM new_key THEN
        INSERT INTO search_outbox (kind, object_id) VALUES (TG_ARGV[0], old_key);
    END IF;
    IF new_key IS NOT NULL THEN
        INSERT INTO search_outbox (kind, object_id) VALUES (TG_ARGV[0], new_key);
    END IF;
    PERFORM pg_notify('search_outbox', TG_ARGV[0]);
    RETURN NULL;
END
$$;

-- One row per index built by `flask search reindex`; lets a build resume and
-- lets the indexer write to an index that is still being built.
CREATE TABLE search_index_build (
    index_name  text PRIMARY KEY,
    kind        text NOT NULL,
    state       text NOT NULL DEFAULT 'building'
                CONSTRAINT search_index_build_state CHECK (state IN ('building', 'live', 'abandoned')),
    last_key    text,
    done        bigint NOT NULL DEFAULT 0,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
CREATE UNIQUE INDEX search_index_build_one_building ON search_index_build (kind) WHERE state = 'building';
