-- Sortiments: a named subset of classes offered to one IT system, owned by a
-- municipality.  Each change makes a new immutable version, so a system can
-- always say which version it received (distribution uses this).

CREATE TABLE sortiment (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    municipality_code smallint NOT NULL REFERENCES municipality (code),
    system_id         uuid NOT NULL REFERENCES it_system (id),
    name              text NOT NULL CONSTRAINT sortiment_name_length CHECK (length(name) BETWEEN 1 AND 200),
    description       text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT sortiment_name_key UNIQUE (municipality_code, name)
);

CREATE TABLE sortiment_version (
    sortiment_id uuid NOT NULL REFERENCES sortiment (id),
    version      integer NOT NULL,
    classes      uuid[] NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    created_by   text,
    PRIMARY KEY (sortiment_id, version)
);
