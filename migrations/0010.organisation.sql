-- Organisation on the bitemporal store (organisation/model.py): the
-- municipality's organisation, units, persons, users, functions, IT systems,
-- with the lookups the API and the sync feed need at any point in both times.

SELECT bt_create_type('organisation');
SELECT bt_create_type('enhed');
SELECT bt_create_type('person');
SELECT bt_create_type('bruger');
SELECT bt_create_type('funktion');
SELECT bt_create_type('itsystem');

CREATE INDEX organisation_municipality ON organisation (municipality_code);
CREATE INDEX enhed_municipality ON enhed (municipality_code);
CREATE INDEX person_municipality ON person (municipality_code);
CREATE INDEX bruger_municipality ON bruger (municipality_code);
CREATE INDEX funktion_municipality ON funktion (municipality_code);
CREATE INDEX itsystem_municipality ON itsystem (municipality_code);

-- Children of a unit; a unit, user or function by its key; a person by CPR;
-- the functions of a unit or a user; units and functions by KLE code (prefix
-- queries use text_pattern_ops).
CREATE INDEX enhed_fact_parent ON enhed_fact ((value #>> '{}')) WHERE field = 'parent';
CREATE INDEX enhed_fact_user_key ON enhed_fact ((value #>> '{}')) WHERE field = 'user_key';
CREATE INDEX enhed_fact_task_code ON enhed_fact ((value ->> 'code') text_pattern_ops) WHERE field = 'tasks';
CREATE INDEX bruger_fact_user_key ON bruger_fact ((value #>> '{}')) WHERE field = 'user_key';
CREATE INDEX bruger_fact_person ON bruger_fact ((value #>> '{}')) WHERE field = 'person';
CREATE INDEX person_fact_cpr ON person_fact ((value #>> '{}')) WHERE field = 'cpr';
CREATE INDEX funktion_fact_units ON funktion_fact ((value #>> '{}')) WHERE field = 'units';
CREATE INDEX funktion_fact_users ON funktion_fact ((value #>> '{}')) WHERE field = 'users';
CREATE INDEX funktion_fact_task_code ON funktion_fact ((value ->> 'code') text_pattern_ops) WHERE field = 'tasks';

-- One organisation object per municipality.
CREATE UNIQUE INDEX organisation_one_per_municipality ON organisation (municipality_code);

-- Units and users are searchable: every registration updates the object's
-- row, so the outbox triggers of migration 0001 queue it for Elasticsearch.
ALTER TABLE enhed ADD COLUMN search_version bigint NOT NULL DEFAULT 0;
CREATE TRIGGER enhed_search_version BEFORE INSERT OR UPDATE ON enhed
    FOR EACH ROW EXECUTE FUNCTION search_stamp_version();
CREATE TRIGGER enhed_search_outbox AFTER INSERT OR UPDATE OR DELETE ON enhed
    FOR EACH ROW EXECUTE FUNCTION search_enqueue('enhed', 'uuid');
ALTER TABLE bruger ADD COLUMN search_version bigint NOT NULL DEFAULT 0;
CREATE TRIGGER bruger_search_version BEFORE INSERT OR UPDATE ON bruger
    FOR EACH ROW EXECUTE FUNCTION search_stamp_version();
CREATE TRIGGER bruger_search_outbox AFTER INSERT OR UPDATE OR DELETE ON bruger
    FOR EACH ROW EXECUTE FUNCTION search_enqueue('bruger', 'uuid');
