-- The change feed of the distribution service (distribution/, docs/distribution.md).
--
-- Every committed change to Organisation, Klassifikation (sortiments included) and the indexes
-- becomes a row of change_event, written by statement-level triggers in the writing transaction
-- (so a change and its event commit or roll back together).  Rows are born without a position;
-- the sequencer (distribution/feed.py `sequence`) gives the committed ones consecutive positions
-- in the order their transactions committed (commit timestamps, track_commit_timestamp), one
-- sequencer at a time.  Subscribers read by position: a transaction that committed late gets a
-- later position than everything sequenced before it, so nothing is skipped and there are no gaps.

CREATE TABLE change_event (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    position          bigint CONSTRAINT change_event_position_key UNIQUE,
    object_type       text NOT NULL,
    object_uuid       uuid NOT NULL,
    municipality_code smallint,
    change            text NOT NULL
                      CONSTRAINT change_event_change CHECK (change IN ('created', 'updated', 'passivated', 'deleted')),
    registered_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    xid               xid8 NOT NULL DEFAULT pg_current_xact_id()
);
CREATE INDEX change_event_unsequenced ON change_event (id) WHERE position IS NULL;
CREATE INDEX change_event_municipality ON change_event (municipality_code, position);

-- TG_ARGV[0]: the object type; the table has uuid, municipality_code and lifecycle (the bitemporal store).
CREATE FUNCTION change_event_capture() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO change_event (object_type, object_uuid, municipality_code, change)
        SELECT TG_ARGV[0], uuid, municipality_code, 'created' FROM new_rows;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO change_event (object_type, object_uuid, municipality_code, change)
        SELECT TG_ARGV[0], uuid, municipality_code,
               CASE lifecycle WHEN 'Slettet' THEN 'deleted' WHEN 'Passiveret' THEN 'passivated' ELSE 'updated' END
          FROM new_rows;
    ELSE
        INSERT INTO change_event (object_type, object_uuid, municipality_code, change)
        SELECT TG_ARGV[0], uuid, municipality_code, 'deleted' FROM old_rows;
    END IF;
    PERFORM pg_notify('change_event', TG_ARGV[0]);
    RETURN NULL;
END
$$;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['klassifikation', 'facet', 'klasse', 'organisation', 'enhed', 'person', 'bruger',
                             'funktion', 'itsystem'] LOOP
        EXECUTE format('CREATE TRIGGER %1$I AFTER INSERT ON %2$I REFERENCING NEW TABLE AS new_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION change_event_capture(%2$L)', t || '_change_insert', t);
        EXECUTE format('CREATE TRIGGER %1$I AFTER UPDATE ON %2$I REFERENCING NEW TABLE AS new_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION change_event_capture(%2$L)', t || '_change_update', t);
        EXECUTE format('CREATE TRIGGER %1$I AFTER DELETE ON %2$I REFERENCING OLD TABLE AS old_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION change_event_capture(%2$L)', t || '_change_delete', t);
    END LOOP;
END
$$;

-- Sortiments: a new version is a change of the sortiment.
CREATE FUNCTION change_event_sortiment() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO change_event (object_type, object_uuid, municipality_code, change)
    SELECT 'sortiment', s.id, s.municipality_code, CASE WHEN n.version = 1 THEN 'created' ELSE 'updated' END
      FROM new_rows n JOIN sortiment s ON s.id = n.sortiment_id;
    PERFORM pg_notify('change_event', 'sortiment');
    RETURN NULL;
END
$$;
CREATE TRIGGER sortiment_version_change AFTER INSERT ON sortiment_version REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION change_event_sortiment();

-- The indexes' records: their kind is the object type; a removal is a deletion.
CREATE FUNCTION change_event_index() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO change_event (object_type, object_uuid, municipality_code, change)
        SELECT kind, uuid, municipality_code, 'deleted' FROM old_rows;
    ELSE
        INSERT INTO change_event (object_type, object_uuid, municipality_code, change)
        SELECT kind, uuid, municipality_code,
               CASE WHEN removed_at IS NOT NULL THEN 'deleted' WHEN TG_OP = 'INSERT' THEN 'created' ELSE 'updated' END
          FROM new_rows;
    END IF;
    PERFORM pg_notify('change_event', 'indexes');
    RETURN NULL;
END
$$;
CREATE TRIGGER index_object_change_insert AFTER INSERT ON index_object REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION change_event_index();
CREATE TRIGGER index_object_change_update AFTER UPDATE ON index_object REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION change_event_index();
CREATE TRIGGER index_object_change_delete AFTER DELETE ON index_object REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION change_event_index();

-- Subscriptions (pull, thin events for now): what a subscriber system wants, and how far it has read.
CREATE TABLE subscription (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    system_id         uuid NOT NULL REFERENCES it_system (id),
    municipality_code smallint NOT NULL REFERENCES municipality (code),
    name              text NOT NULL CONSTRAINT subscription_name_length CHECK (length(name) BETWEEN 1 AND 200),
    topics            text[] NOT NULL
                      CONSTRAINT subscription_topics CHECK (cardinality(topics) >= 1
                          AND topics <@ ARRAY['organisation', 'klassifikation', 'indexes']),
    object_types      text[],
    acked_position    bigint NOT NULL DEFAULT 0,
    paused            boolean NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT subscription_name_key UNIQUE (system_id, municipality_code, name)
);
