-- A subscription to one sortiment (DOMAIN.md §4: a named subset of classes offered to a system):
-- of the topic klassifikation it receives only that sortiment's own events and the events of the
-- classes in its newest version.  NULL: the whole topic.
ALTER TABLE subscription ADD COLUMN sortiment_id uuid REFERENCES sortiment (id);
