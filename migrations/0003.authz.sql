-- Access control: vendors, IT systems and their credentials, service
-- agreements with their history, notifications, token signing keys, and the
-- platform's own users (municipality admins, vendor admins, operators).
-- The service catalogue lives in code (authz/catalogue.py); `service` columns
-- are checked against it by the application.

CREATE TABLE vendor (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name       text NOT NULL CONSTRAINT vendor_name_length CHECK (length(name) BETWEEN 1 AND 200),
    cvr        text CONSTRAINT vendor_cvr_format CHECK (cvr ~ '^[0-9]{8}$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT vendor_name_key UNIQUE (name)
);

CREATE TABLE it_system (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    vendor_id        uuid NOT NULL REFERENCES vendor (id),
    name             text NOT NULL CONSTRAINT it_system_name_length CHECK (length(name) BETWEEN 1 AND 200),
    client_id        text NOT NULL,
    secret_hash      text NOT NULL,
    -- SHA-256 of the client certificate (hex), when the system is bound to one.
    cert_thumbprint  text CONSTRAINT it_system_thumbprint_format CHECK (cert_thumbprint ~ '^[0-9a-f]{64}$'),
    active           boolean NOT NULL DEFAULT true,
    created_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT it_system_client_id_key UNIQUE (client_id),
    CONSTRAINT it_system_vendor_name_key UNIQUE (vendor_id, name)
);

CREATE TABLE agreement (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    system_id         uuid NOT NULL REFERENCES it_system (id),
    service           text NOT NULL,
    municipality_code smallint NOT NULL REFERENCES municipality (code),
    roles             text[] NOT NULL CONSTRAINT agreement_roles_nonempty CHECK (cardinality(roles) > 0),
    constraints       jsonb NOT NULL DEFAULT '{}',
    state             text NOT NULL DEFAULT 'requested'
                      CONSTRAINT agreement_state CHECK (state IN ('requested', 'approved', 'rejected', 'terminated')),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
-- At most one live (requested or approved) agreement per system, service and municipality.
CREATE UNIQUE INDEX agreement_live_key ON agreement (system_id, service, municipality_code)
    WHERE state IN ('requested', 'approved');
CREATE INDEX agreement_municipality ON agreement (municipality_code, state);

-- Who changed an agreement's state, and when (never updated or deleted).
CREATE TABLE agreement_event (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agreement_id uuid NOT NULL REFERENCES agreement (id),
    state        text NOT NULL,
    actor_id     uuid,
    actor_kind   text NOT NULL CONSTRAINT agreement_event_actor CHECK (actor_kind IN ('platform_user', 'system', 'operator_cli')),
    note         text,
    at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agreement_event_agreement ON agreement_event (agreement_id, id);

-- Stored notifications (delivery by mail etc. comes later).
CREATE TABLE notification (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    municipality_code smallint REFERENCES municipality (code),
    vendor_id         uuid REFERENCES vendor (id),
    kind              text NOT NULL,
    agreement_id      uuid REFERENCES agreement (id),
    message           text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    read_at           timestamptz,
    CONSTRAINT notification_recipient CHECK (num_nonnulls(municipality_code, vendor_id) = 1)
);
CREATE INDEX notification_municipality ON notification (municipality_code, id) WHERE municipality_code IS NOT NULL;
CREATE INDEX notification_vendor ON notification (vendor_id, id) WHERE vendor_id IS NOT NULL;

-- Token signing keys.  A key signs from `created_at` until `retired_at`; it
-- stays published in the JWKS until `expires_at` (retired_at + the longest
-- token lifetime), so tokens it signed keep verifying during a rotation.
CREATE TABLE signing_key (
    kid         text PRIMARY KEY,
    algorithm   text NOT NULL,
    private_pem text NOT NULL,
    public_jwk  jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    retired_at  timestamptz,
    expires_at  timestamptz
);

CREATE TABLE platform_user (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    username          text NOT NULL CONSTRAINT platform_user_username_format CHECK (username ~ '^[a-z0-9._@-]{3,100}$'),
    display_name      text NOT NULL,
    password_hash     text NOT NULL,
    role              text NOT NULL
                      CONSTRAINT platform_user_role CHECK (role IN ('municipality_admin', 'vendor_admin', 'platform_operator')),
    municipality_code smallint REFERENCES municipality (code),
    vendor_id         uuid REFERENCES vendor (id),
    failed_logins     integer NOT NULL DEFAULT 0,
    locked_until      timestamptz,
    active            boolean NOT NULL DEFAULT true,
    created_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT platform_user_username_key UNIQUE (username),
    CONSTRAINT platform_user_scope CHECK (
        (role = 'municipality_admin' AND municipality_code IS NOT NULL AND vendor_id IS NULL) OR
        (role = 'vendor_admin' AND vendor_id IS NOT NULL AND municipality_code IS NULL) OR
        (role = 'platform_operator' AND municipality_code IS NULL AND vendor_id IS NULL))
);

-- Opaque bearer tokens of platform users: login sessions and personal API
-- tokens.  Only a SHA-256 of the token is stored.
CREATE TABLE platform_token (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      uuid NOT NULL REFERENCES platform_user (id),
    kind         text NOT NULL CONSTRAINT platform_token_kind CHECK (kind IN ('session', 'personal')),
    name         text,
    token_hash   bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    last_used_at timestamptz,
    CONSTRAINT platform_token_hash_key UNIQUE (token_hash)
);
CREATE INDEX platform_token_user ON platform_token (user_id);
