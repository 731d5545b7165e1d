-- Classes are searchable: every registration updates the `klasse` row, so
-- the outbox triggers of migration 0001 queue the class for Elasticsearch.

ALTER TABLE klasse ADD COLUMN search_version bigint NOT NULL DEFAULT 0;

CREATE TRIGGER klasse_search_version BEFORE INSERT OR UPDATE ON klasse
    FOR EACH ROW EXECUTE FUNCTION search_stamp_version();
CREATE TRIGGER klasse_search_outbox AFTER INSERT OR UPDATE OR DELETE ON klasse
    FOR EACH ROW EXECUTE FUNCTION search_enqueue('klasse', 'uuid');
