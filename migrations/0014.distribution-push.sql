-- Push delivery of the distribution service (distribution/push.py, docs/distribution.md).
--
-- A subscription with a push endpoint gets its events POSTed to that URL, one event per request,
-- in position order, each signed with the subscription's HMAC secret.  The secret is stored as is
-- (it is needed to sign), like the token signing keys (docs/security.md): protect the database and
-- its backups.  A failed delivery is retried with exponential backoff and jitter; after
-- max_attempts attempts or max_age_seconds, the event goes to dead_letter and later events flow.
-- The deliverer locks a subscription's row (FOR UPDATE SKIP LOCKED), so two schedulers never
-- deliver for the same subscription at once.

CREATE TABLE subscription_push (
    subscription_id    uuid PRIMARY KEY REFERENCES subscription (id) ON DELETE CASCADE,
    url                text NOT NULL,
    secret             text NOT NULL,
    max_attempts       integer NOT NULL DEFAULT 8 CONSTRAINT subscription_push_attempts CHECK (max_attempts >= 1),
    max_age_seconds    integer NOT NULL DEFAULT 86400 CONSTRAINT subscription_push_age CHECK (max_age_seconds >= 1),
    delivered_position bigint NOT NULL DEFAULT 0,
    attempts           integer NOT NULL DEFAULT 0,
    next_attempt_at    timestamptz NOT NULL DEFAULT now(),
    last_error         text,
    last_success_at    timestamptz,
    failures           bigint NOT NULL DEFAULT 0
);
CREATE INDEX subscription_push_due ON subscription_push (next_attempt_at);

-- Events given up on, kept for manual redrive (POST .../dead-letters/<id>/redrive).
CREATE TABLE dead_letter (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscription_id uuid NOT NULL REFERENCES subscription (id) ON DELETE CASCADE,
    position        bigint NOT NULL,
    event           jsonb NOT NULL,
    error           text NOT NULL,
    attempts        integer NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    redriven_at     timestamptz,
    CONSTRAINT dead_letter_position_key UNIQUE (subscription_id, position)
);
