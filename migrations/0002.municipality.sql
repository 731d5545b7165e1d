-- The municipality registry: the tenants of every other service.

CREATE TABLE municipality (
    code           smallint PRIMARY KEY
                   CONSTRAINT municipality_code_range CHECK (code BETWEEN 100 AND 999),
    cvr            text NOT NULL
                   CONSTRAINT municipality_cvr_format CHECK (cvr ~ '^[0-9]{8}$'),
    name           text NOT NULL
                   CONSTRAINT municipality_name_length CHECK (length(name) BETWEEN 1 AND 100),
    region         text NOT NULL
                   CONSTRAINT municipality_region CHECK (region IN (
                       'Region Hovedstaden', 'Region Sjælland', 'Region Syddanmark',
                       'Region Midtjylland', 'Region Nordjylland')),
    citizens       integer NOT NULL CONSTRAINT municipality_citizens CHECK (citizens >= 0),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    search_version bigint NOT NULL DEFAULT 0,
    CONSTRAINT municipality_cvr_key UNIQUE (cvr)
);

CREATE TRIGGER municipality_search_version BEFORE INSERT OR UPDATE ON municipality
    FOR EACH ROW EXECUTE FUNCTION search_stamp_version();
CREATE TRIGGER municipality_search_outbox AFTER INSERT OR UPDATE OR DELETE ON municipality
    FOR EACH ROW EXECUTE FUNCTION search_enqueue('municipality', 'code');
