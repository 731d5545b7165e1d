-- The access log (who read which persons' data) and usage metering.
--
-- ACCESS LOG
-- ----------
-- One row per answer that contained personal data, written in the request's
-- own transaction (authz/access_log.py), so an answer is never sent without
-- its entry.  The table is append-only and hash-chained:
--
-- * A BEFORE INSERT trigger takes a transaction-scoped advisory lock, so
--   writers are serialised until they commit, then assigns `id` (from its own
--   sequence) and `at` (clock_timestamp()) itself: id order is chain order, an
--   inserter can neither choose an id nor backdate an entry.  It sets
--   prev_hash to the newest row's hash (or, when every row has been purged,
--   the anchor of the last purge; for the very first row 32 zero bytes) and
--   hash = sha256(prev_hash || canonical text of the row, see
--   access_log_canonical).  authz/access_log.py recomputes the same chain in
--   Python (`flask authz verify-access-log`).
-- * UPDATE and TRUNCATE are refused by triggers, always.  DELETE is refused
--   unless a purge covering the row has been recorded in access_log_purge
--   (itself append-only); access_log_purge(cutoff) records one and deletes,
--   and only ever removes the oldest rows (a prefix of the chain).  The purge
--   record keeps the hash of the last removed row, which must equal the first
--   remaining row's prev_hash, and no row may survive below a purge's
--   up_to_id; verification checks both.
-- * The triggers are ENABLE ALWAYS, so `SET session_replication_role =
--   replica` does not switch them off.
--
-- What this does NOT protect against, honestly: the chain uses an unkeyed
-- SHA-256, and a superuser or the table owner can disable or drop the
-- triggers (ALTER TABLE ... DISABLE TRIGGER), rewrite rows and recompute every
-- later hash, or delete the newest rows; nothing inside one database can
-- detect a consistent rewrite.  Against that, record the head that the verify
-- command prints (id and hash) somewhere the database's administrators cannot
-- write, and check it later with `flask authz verify-access-log --expect
-- ID:HASH`.  In production the application should connect as a role that
-- does not own these tables and has only SELECT and INSERT on them plus
-- EXECUTE on access_log_purge (granted by the deployment; the development
-- setup connects as the superuser `postgres`).  Anyone who may INSERT can
-- add a genuine-looking entry: the log proves that entries were not changed
-- or removed, not who wrote them.

CREATE SEQUENCE access_log_id_seq AS bigint;

CREATE TABLE access_log (
    -- Assigned by the trigger from access_log_id_seq under the writers' lock.
    id                bigint PRIMARY KEY,
    at                timestamptz NOT NULL DEFAULT clock_timestamp(),
    request_id        text,
    system_id         uuid,
    vendor_id         uuid,
    platform_user_id  uuid,
    user_uuid         uuid,  -- the end user a system acts for
    municipality_code smallint,
    agreement_id      uuid,
    operation         text NOT NULL CONSTRAINT access_log_operation CHECK (length(operation) BETWEEN 1 AND 200),
    persons           text[] NOT NULL
                      CONSTRAINT access_log_persons CHECK (
                          array_ndims(persons) = 1 AND cardinality(persons) >= 1
                          AND array_position(persons, NULL) IS NULL),
    prev_hash         bytea NOT NULL,
    hash              bytea NOT NULL
);
ALTER SEQUENCE access_log_id_seq OWNED BY access_log.id;
CREATE INDEX access_log_persons_gin ON access_log USING gin (persons);
CREATE INDEX access_log_municipality_at ON access_log (municipality_code, at);
CREATE INDEX access_log_at ON access_log (at);
CREATE INDEX access_log_system_at ON access_log (system_id, at);

-- Every purge, kept for good: up to which id rows were removed, and the hash
-- of that last removed row (the anchor the remaining chain starts from).
CREATE TABLE access_log_purge (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    cutoff       timestamptz NOT NULL,
    up_to_id     bigint NOT NULL,
    anchor_hash  bytea NOT NULL,
    rows_deleted bigint NOT NULL,
    done_by      text NOT NULL DEFAULT current_user
);

-- One field of the canonical text: '-' for NULL, else "<bytes>:<value>".
-- The length prefix makes the concatenation unambiguous.
CREATE FUNCTION access_log_field(value text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN value IS NULL THEN '-' ELSE octet_length(value)::text || ':' || value END
$$;

-- The text that is hashed: a version tag, then every field but the hashes,
-- `at` as UTC with microseconds, `persons` as its own length-prefixed list.
-- authz/access_log.py:canonical() must produce exactly the same bytes.  A
-- column added later is not covered until a new version tag includes it.
CREATE FUNCTION access_log_canonical(r access_log) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT 'sts-access-log-v1'
        || access_log_field(r.id::text)
        || access_log_field(to_char(r.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
        || access_log_field(r.request_id)
        || access_log_field(r.system_id::text)
        || access_log_field(r.vendor_id::text)
        || access_log_field(r.platform_user_id::text)
        || access_log_field(r.user_uuid::text)
        || access_log_field(r.municipality_code::text)
        || access_log_field(r.agreement_id::text)
        || access_log_field(r.operation)
        || access_log_field(coalesce(
               (SELECT string_agg(access_log_field(p), '' ORDER BY n)
                  FROM unnest(r.persons) WITH ORDINALITY AS u (p, n)), ''))
$$;

CREATE FUNCTION access_log_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    previous bytea;
BEGIN
    -- Under REPEATABLE READ the newest row may be invisible: the chain would fork.
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'access_log is written only in READ COMMITTED transactions'
            USING ERRCODE = 'feature_not_supported';
    END IF;
    -- Held until commit: the next writer sees this row as the newest.
    PERFORM pg_advisory_xact_lock(hashtext('access_log'));
    NEW.id := nextval('access_log_id_seq');
    NEW.at := clock_timestamp();
    SELECT hash INTO previous FROM access_log ORDER BY id DESC LIMIT 1;
    IF previous IS NULL THEN
        SELECT anchor_hash INTO previous FROM access_log_purge ORDER BY id DESC LIMIT 1;
    END IF;
    NEW.prev_hash := coalesce(previous, decode(repeat('00', 32), 'hex'));
    NEW.hash := sha256(NEW.prev_hash || convert_to(access_log_canonical(NEW), 'UTF8'));
    RETURN NEW;
END
$$;

CREATE FUNCTION access_log_refuse() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Old access-log rows are removed only by access_log_purge(cutoff).';
END
$$;

-- A row may be deleted only when a purge covering it has been recorded
-- (access_log_purge() records, then deletes, in one transaction).  Once a
-- purge has committed no row it covers is left, so this admits nothing else.
CREATE FUNCTION access_log_guard_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.id <= coalesce((SELECT max(up_to_id) FROM access_log_purge), 0) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'access_log is append-only: DELETE is not allowed'
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Old access-log rows are removed only by access_log_purge(cutoff).';
END
$$;

CREATE TRIGGER access_log_chain BEFORE INSERT ON access_log
    FOR EACH ROW EXECUTE FUNCTION access_log_chain();
CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log
    FOR EACH ROW EXECUTE FUNCTION access_log_refuse();
CREATE TRIGGER access_log_no_delete BEFORE DELETE ON access_log
    FOR EACH ROW EXECUTE FUNCTION access_log_guard_delete();
CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON access_log
    FOR EACH STATEMENT EXECUTE FUNCTION access_log_refuse();
CREATE TRIGGER access_log_purge_no_change BEFORE UPDATE OR DELETE ON access_log_purge
    FOR EACH ROW EXECUTE FUNCTION access_log_refuse();
CREATE TRIGGER access_log_purge_no_truncate BEFORE TRUNCATE ON access_log_purge
    FOR EACH STATEMENT EXECUTE FUNCTION access_log_refuse();
ALTER TABLE access_log ENABLE ALWAYS TRIGGER access_log_chain;
ALTER TABLE access_log ENABLE ALWAYS TRIGGER access_log_no_update;
ALTER TABLE access_log ENABLE ALWAYS TRIGGER access_log_no_delete;
ALTER TABLE access_log ENABLE ALWAYS TRIGGER access_log_no_truncate;
ALTER TABLE access_log_purge ENABLE ALWAYS TRIGGER access_log_purge_no_change;
ALTER TABLE access_log_purge ENABLE ALWAYS TRIGGER access_log_purge_no_truncate;

-- Retention: remove every row older than `cutoff` (and, so that only a
-- prefix of the chain goes, every row before the newest such row).  Records
-- the purge first; answers the number of rows removed.
CREATE FUNCTION access_log_purge(cutoff timestamptz) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    last_id bigint;
    anchor  bytea;
    removed bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('access_log'));
    SELECT max(id) INTO last_id FROM access_log WHERE at < cutoff;
    IF last_id IS NULL THEN
        RETURN 0;
    END IF;
    SELECT hash INTO anchor FROM access_log WHERE id = last_id;
    SELECT count(*) INTO removed FROM access_log WHERE id <= last_id;
    INSERT INTO access_log_purge (cutoff, up_to_id, anchor_hash, rows_deleted)
        VALUES (cutoff, last_id, anchor, removed);
    DELETE FROM access_log WHERE id <= last_id;
    RETURN removed;
END
$$;

-- USAGE METERING
-- --------------
-- Calls made with system tokens, per day (Copenhagen date), municipality,
-- system, service and operation ("METHOD /rule").  Counted in memory by each
-- process and added here with one upsert every few seconds (authz/usage.py).
CREATE TABLE usage_counter (
    day               date NOT NULL,
    municipality_code smallint NOT NULL,
    system_id         uuid NOT NULL,
    service           text NOT NULL,
    operation         text NOT NULL,
    calls             bigint NOT NULL CONSTRAINT usage_counter_calls CHECK (calls >= 0),
    CONSTRAINT usage_counter_pkey PRIMARY KEY (day, municipality_code, system_id, service, operation)
);
CREATE INDEX usage_counter_municipality ON usage_counter (municipality_code, day);
CREATE INDEX usage_counter_system ON usage_counter (system_id, day);
