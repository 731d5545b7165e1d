-- Klassifikation on the bitemporal store: Klassifikation, Facet, Klasse
-- (classification/model.py), with lookups by code and by parent.

SELECT bt_create_type('klassifikation');
SELECT bt_create_type('facet');
SELECT bt_create_type('klasse');

-- A class by its code (user_key) and the children of a class, at any point in
-- both times: the expression narrows to a handful of fact rows, the periods
-- are then checked on those.
CREATE INDEX klasse_fact_user_key ON klasse_fact ((value #>> '{}')) WHERE field = 'user_key';
CREATE INDEX klasse_fact_parent ON klasse_fact ((value #>> '{}')) WHERE field = 'parent';
CREATE INDEX klasse_fact_facet ON klasse_fact ((value #>> '{}')) WHERE field = 'facet';
CREATE INDEX facet_fact_user_key ON facet_fact ((value #>> '{}')) WHERE field = 'user_key';
