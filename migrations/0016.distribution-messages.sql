-- Business events (beskedfordeler) of the distribution service (distribution/messages.py,
-- docs/distribution.md).
--
-- A sender system publishes a message: an envelope (type, allowed recipient systems, related
-- objects, KLE subject, sensitivity, validity) and a free JSON payload.  The message is stored
-- here and a change_event of object type 'besked' is written in the same transaction, so it is
-- sequenced and delivered (pull and push) like every other change; the subscriber's topic is
-- 'events'.  Who may receive it is decided when it is read (distribution/messages.py).

CREATE TABLE business_message (
    uuid              uuid PRIMARY KEY,
    municipality_code smallint NOT NULL REFERENCES municipality (code),
    sender_system     uuid NOT NULL REFERENCES it_system (id),
    type              text NOT NULL CONSTRAINT business_message_type CHECK (length(type) BETWEEN 1 AND 200),
    recipients        uuid[],
    objects           jsonb NOT NULL DEFAULT '[]',
    kle               text,
    sensitivity       text NOT NULL,
    valid_from        timestamptz,
    valid_to          timestamptz,
    payload           jsonb NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT business_message_validity CHECK (valid_to IS NULL OR valid_from IS NULL OR valid_from < valid_to)
);
CREATE INDEX business_message_municipality ON business_message (municipality_code, created_at);

-- Subscriptions may take the new topic.
ALTER TABLE subscription DROP CONSTRAINT subscription_topics;
ALTER TABLE subscription ADD CONSTRAINT subscription_topics CHECK (cardinality(topics) >= 1
    AND topics <@ ARRAY['organisation', 'klassifikation', 'indexes', 'events']);
