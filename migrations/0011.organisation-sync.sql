-- The sync feed's bulk imports (organisation/bulk.py): how far a named job
-- got, so a rerun of the same input resumes after the last committed batch.
-- `position` counts the import's steps in its processing order (units
-- parents-first, one step per unit, then users, then the units' manager and
-- paying-unit links), which the same input always gives in the same order; `input_hash` tells
-- whether a rerun reads the same input (a different one starts again).

CREATE TABLE organisation_sync_job (
    municipality_code smallint NOT NULL REFERENCES municipality (code),
    name              text NOT NULL CONSTRAINT organisation_sync_job_name_length CHECK (length(name) BETWEEN 1 AND 200),
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
