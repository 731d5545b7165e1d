-- Full payloads and batched push (distribution/payloads.py, distribution/push.py).
--
-- payload: 'thin' events name the object (type, UUID, change); 'full' events also carry `data`,
-- the object's current state as the subscriber's agreement allows it (personal data only with
-- see_cpr / see_name; reads of personal data access-logged).
-- batch_size: how many events one push request carries (1: one event per request, the body is
-- the event; more: the body is {"subscription_id", "events": [...]}, in position order).
ALTER TABLE subscription ADD COLUMN payload text NOT NULL DEFAULT 'thin'
    CONSTRAINT subscription_payload CHECK (payload IN ('thin', 'full'));
ALTER TABLE subscription_push ADD COLUMN batch_size integer NOT NULL DEFAULT 1
    CONSTRAINT subscription_push_batch CHECK (batch_size BETWEEN 1 AND 1000);
