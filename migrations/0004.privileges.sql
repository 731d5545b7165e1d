-- Users' privileges (brugeradgangsstyring), see docs/privileges.md:
--   user_system_role          published by a vendor for one of its IT systems
--   job_function_role         defined by a municipality: user-system roles + data constraints
--   job_function_role_member  which user-system roles a job-function role bundles
--   role_assignment           a user (UUID in Organisation) holds a job-function role for a period
-- Constraint names are registered with app.db.register_constraint (authz/privileges.py)
-- so that violations are answered as problems naming the field.

CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE user_system_role (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    system_id   uuid NOT NULL CONSTRAINT user_system_role_system_id_fkey REFERENCES it_system (id),
    -- A URN: "urn:", a namespace identifier, then colon-separated segments.
    key         text NOT NULL
                CONSTRAINT user_system_role_key_format
                CHECK (length(key) <= 200 AND key ~ '^urn:[a-z0-9][a-z0-9-]{0,31}(:[A-Za-z0-9._~-]+)+$'),
    name        text NOT NULL CONSTRAINT user_system_role_name_length CHECK (length(name) BETWEEN 1 AND 200),
    description text NOT NULL DEFAULT ''
                CONSTRAINT user_system_role_description_length CHECK (length(description) <= 2000),
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT user_system_role_system_key_key UNIQUE (system_id, key)
);

CREATE TABLE job_function_role (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    municipality_code smallint NOT NULL
                      CONSTRAINT job_function_role_municipality_code_fkey REFERENCES municipality (code),
    name              text NOT NULL
                      CONSTRAINT job_function_role_name_length CHECK (length(name) BETWEEN 1 AND 200),
    description       text NOT NULL DEFAULT ''
                      CONSTRAINT job_function_role_description_length CHECK (length(description) <= 2000),
    -- Same shape as authz.schemas.ConstraintsSchema; a missing key means no restriction of that kind.
    constraints       jsonb NOT NULL DEFAULT '{}'
                      CONSTRAINT job_function_role_constraints_object CHECK (jsonb_typeof(constraints) = 'object'),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT job_function_role_municipality_name_key UNIQUE (municipality_code, name)
);

CREATE TABLE job_function_role_member (
    job_function_role_id uuid NOT NULL
                         CONSTRAINT job_function_role_member_role_fkey
                         REFERENCES job_function_role (id) ON DELETE CASCADE,
    user_system_role_id  uuid NOT NULL
                         CONSTRAINT job_function_role_member_user_system_role_fkey
                         REFERENCES user_system_role (id),
    CONSTRAINT job_function_role_member_pkey PRIMARY KEY (job_function_role_id, user_system_role_id)
);
CREATE INDEX job_function_role_member_user_system_role ON job_function_role_member (user_system_role_id);

CREATE TABLE role_assignment (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    job_function_role_id uuid NOT NULL
                         CONSTRAINT role_assignment_job_function_role_fkey
                         REFERENCES job_function_role (id) ON DELETE CASCADE,
    user_uuid            uuid NOT NULL,
    -- Half-open [valid_from, valid_to); either end may be open (NULL bound = unbounded).
    validity             daterange NOT NULL
                         CONSTRAINT role_assignment_validity_nonempty CHECK (NOT isempty(validity)),
    created_at           timestamptz NOT NULL DEFAULT now(),
    -- A user holds a job-function role at most once on any day.
    CONSTRAINT role_assignment_no_overlap
        EXCLUDE USING gist (job_function_role_id WITH =, user_uuid WITH =, validity WITH &&)
);
CREATE INDEX role_assignment_user ON role_assignment (user_uuid);
