-- name: get
-- One municipality by code.
SELECT code, cvr, name, region, citizens, created_at, updated_at
  FROM municipality
 WHERE code = %(code)s;

-- name: get_by_cvr
SELECT code, name FROM municipality WHERE cvr = %(cvr)s;

-- name: upsert
-- Create or update by code; a row whose values are all unchanged is not
-- touched (no new search version, no outbox row) and no row is returned.
INSERT INTO municipality AS m (code, cvr, name, region, citizens)
VALUES (%(code)s, %(cvr)s, %(name)s, %(region)s, %(citizens)s)
ON CONFLICT (code) DO UPDATE
   SET cvr = EXCLUDED.cvr, name = EXCLUDED.name, region = EXCLUDED.region,
       citizens = EXCLUDED.citizens, updated_at = now()
 WHERE (m.cvr, m.name, m.region, m.citizens)
       IS DISTINCT FROM (EXCLUDED.cvr, EXCLUDED.name, EXCLUDED.region, EXCLUDED.citizens)
RETURNING code, (xmax = 0) AS inserted;

-- name: insert_missing
-- Create a municipality unless its code exists; existing rows are left alone.
INSERT INTO municipality (code, cvr, name, region, citizens)
VALUES (%(code)s, %(cvr)s, %(name)s, %(region)s, %(citizens)s)
ON CONFLICT (code) DO NOTHING
RETURNING code, true AS inserted;

-- name: search_load
-- Current search documents for the given codes.
SELECT code, cvr, name, region, citizens, search_version
  FROM municipality
 WHERE code = ANY(%(codes)s::smallint[]);

-- name: search_scan
-- Search documents in code order after a key, for index rebuilds.
SELECT code, cvr, name, region, citizens, search_version
  FROM municipality
 WHERE %(after)s::smallint IS NULL OR code > %(after)s::smallint
 ORDER BY code
 LIMIT %(limit)s;

-- name: search_count
SELECT count(*) AS n FROM municipality
 WHERE %(after)s::smallint IS NULL OR code > %(after)s::smallint;
