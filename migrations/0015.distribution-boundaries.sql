-- Validity-boundary events of the distribution service (distribution/boundaries.py).
--
-- A change registered today with a valid-from next month changes what a subscriber sees only
-- next month; the scheduler's `boundaries` job then writes a change_event for the object.
-- The watermark says up to which instant valid-time boundaries have been turned into events;
-- it starts at the time this migration runs (earlier boundaries predate the feed).
--
-- Only facts registered before their boundary matter (a write registered after the boundary
-- already produced its own event), so the partial indexes hold only the current facts that start
-- or end after they were registered: future-dated changes.  Bulk loads (valid from the past,
-- open-ended) add no entries to them; a write pays only for evaluating the predicates.

CREATE TABLE distribution_boundary_watermark (
    id             boolean PRIMARY KEY DEFAULT true CONSTRAINT distribution_boundary_watermark_one CHECK (id),
    checked_until  timestamptz NOT NULL
);
INSERT INTO distribution_boundary_watermark (checked_until) VALUES (now());

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['klassifikation', 'facet', 'klasse', 'organisation', 'enhed', 'person', 'bruger',
                             'funktion', 'itsystem'] LOOP
        EXECUTE format('CREATE INDEX %1$I ON %2$I (lower(valid)) '
                       'WHERE upper_inf(registration) AND lower(registration) < lower(valid)',
                       t || '_fact_future_start', t || '_fact');
        EXECUTE format('CREATE INDEX %1$I ON %2$I (upper(valid)) '
                       'WHERE upper_inf(registration) AND lower(registration) < upper(valid)',
                       t || '_fact_future_end', t || '_fact');
    END LOOP;
END
$$;
