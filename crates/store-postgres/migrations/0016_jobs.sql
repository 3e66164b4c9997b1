-- Background jobs: claimed with a lease, retried with backoff, dead-lettered after too many
-- attempts. Twin of the SQLite migration with the same name; keep them in step.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    org_id TEXT REFERENCES organisations (id),
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    run_at BIGINT NOT NULL,
    lease TEXT,
    locked_until BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX jobs_due ON jobs (state, run_at);
CREATE INDEX jobs_org ON jobs (org_id, state);
