-- KLE uploads imported in the background (classification/upload_jobs_api.py, classification/kle_jobs.py,
-- docs/classifications.md).  An operator's upload is stored here as a queued job; a runner (the
-- scheduler's `kle_imports` job, or `flask klassifikation run-imports`) takes it with FOR UPDATE
-- SKIP LOCKED, imports it in one transaction and writes the outcome.  While it imports, `progress`
-- and `heartbeat_at` are written from a separate autocommit connection, so pages can follow it; a
-- running job whose heartbeat is older than the runner's timeout was left by a runner that died and
-- is taken again (at most three attempts; `attempts` doubles as the fencing token of the runner that
-- owns the job).  The file itself (`content`) is dropped once the job is done or failed.

CREATE TABLE kle_import_job (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    filename     text NOT NULL CONSTRAINT kle_import_job_filename_length CHECK (length(filename) BETWEEN 1 AND 255),
    content      bytea,
    size         integer NOT NULL CONSTRAINT kle_import_job_size CHECK (size >= 0),
    uploaded_by  uuid REFERENCES platform_user (id) ON DELETE SET NULL,
    state        text NOT NULL DEFAULT 'queued'
                 CONSTRAINT kle_import_job_state CHECK (state IN ('queued', 'running', 'done', 'failed')),
    progress     jsonb,     -- {"phase": "parse" | "import", "done": n, "total": n}
    summary      jsonb,     -- the import's summary (as POST /kle-imports answers) with example classes
    errors       jsonb,     -- [{"code", "line": n | null, "message"}]: a refused file's problems, or why a run failed
    attempts     integer NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,
    heartbeat_at timestamptz,
    finished_at  timestamptz,
    -- A job waiting or running has its file; a finished one does not keep it.
    CONSTRAINT kle_import_job_content CHECK ((state IN ('queued', 'running')) = (content IS NOT NULL))
);
CREATE INDEX kle_import_job_due ON kle_import_job (created_at) WHERE state IN ('queued', 'running');
CREATE INDEX kle_import_job_newest ON kle_import_job (created_at DESC, id DESC);

-- Wake the runner at once (distribution/scheduler.py LISTENs on this channel); sent at commit.
CREATE FUNCTION kle_import_job_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('kle_import_job', NEW.id::text);
    RETURN NULL;
END
$$;
CREATE TRIGGER kle_import_job_queued AFTER INSERT ON kle_import_job
    FOR EACH ROW EXECUTE FUNCTION kle_import_job_notify();
